package main

import (
	"cmp"

	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/reconcile"
)

// syncedGateway wraps the Stripe adapter so that a window run reads Stripe's
// refunds from the mirror in the reconciler's database, fetching only what
// changed since the last run (contract: "Scope of a run"). A customer check
// never lists refunds by window, so it keeps reading Stripe directly, as
// lookup does through a.gateway.
func (a *app) syncedGateway(s *settings) *reconcile.SyncedGateway {
	return &reconcile.SyncedGateway{
		Gateway:   a.gateway,
		Changes:   a.gateway,
		Mirror:    a.db,
		Name:      syncName(s),
		FullEvery: s.FullSyncEvery,
		Full:      s.FullSync,
		Synced: func(st reconcile.SyncStats) {
			a.log.Debug("gateway sync", "full", st.Full, "reason", st.Reason, "saved", st.Saved)
		},
	}
}

// syncName names the sync cursor: another Stripe URL or metadata key means
// another mirror, so a full listing.
func syncName(s *settings) string {
	return "stripe refunds " + cmp.Or(s.StripeAPIURL, gateway.DefaultURL) + " " + cmp.Or(s.StripeMetadataKey, gateway.DefaultMetadataKey)
}
