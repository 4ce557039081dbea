package reconcile

import "errors"

// Sentinel errors callers branch on. Adapters translate their drivers'
// errors (sql.ErrNoRows, *stripe.Error) into these, so driver types never
// leave the adapter.
var (
	// ErrNotFound: the record does not exist (a 404 from the gateway, no row
	// in the store).
	ErrNotFound = errors.New("not found")
	// ErrConfig: the configuration is wrong (a bad flag or variable, a ledger
	// query missing a column). The command exits 2.
	ErrConfig = errors.New("configuration error")
	// ErrUnauthorized: the gateway refused the key (401 or 403).
	ErrUnauthorized = errors.New("gateway refused the API key")
)
