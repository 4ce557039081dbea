package reconcile

import (
	"crypto/sha256"
	"crypto/subtle"
)

// Role is what an API token may do, on the API and on the page alike. The
// roles are ordered: each may do everything the one before it may.
type Role string

// The roles of API_TOKENS entries (name:token:role).
const (
	// RoleViewer reads discrepancies, runs and the page.
	RoleViewer Role = "viewer"
	// RoleSupport reads and checks customers (on-demand runs, lookups).
	RoleSupport Role = "support"
	// RoleFinance reads, checks, acknowledges and resolves: the default of
	// an entry that names no role.
	RoleFinance Role = "finance"
	// RoleAdmin does everything, releasing and discarding held runs too.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from the least to the most allowed.
var Roles = []Role{RoleViewer, RoleSupport, RoleFinance, RoleAdmin}

// Action is something a token asks to do.
type Action string

// The actions a role allows.
const (
	// ActionRead lists and shows discrepancies and runs.
	ActionRead Action = "read"
	// ActionCheck runs an on-demand check of a customer (or a lookup).
	ActionCheck Action = "check"
	// ActionReview acknowledges or resolves a discrepancy.
	ActionReview Action = "review"
	// ActionRelease releases or discards a held run.
	ActionRelease Action = "release"
)

// minRole is the least role allowed each action.
var minRole = map[Action]Role{
	ActionRead:    RoleViewer,
	ActionCheck:   RoleSupport,
	ActionReview:  RoleFinance,
	ActionRelease: RoleAdmin,
}

// ParseRole reads the role of an API_TOKENS entry; "" is RoleFinance. An
// unknown role is an error wrapping ErrConfig.
func ParseRole(s string) (Role, error) {
	if s == "" {
		return RoleFinance, nil
	}
	r := Role(s)
	if r.rank() < 0 {
		return "", ErrConfig
	}
	return r, nil
}

func (r Role) rank() int {
	for i, x := range Roles {
		if x == r {
			return i
		}
	}
	return -1
}

// AtLeast reports whether r may do everything min may. An unknown role is
// at least nothing.
func (r Role) AtLeast(min Role) bool {
	return r.rank() >= 0 && min.rank() >= 0 && r.rank() >= min.rank()
}

// Allows reports whether r may do a. An unknown action is allowed to no one.
func (r Role) Allows(a Action) bool {
	min, ok := minRole[a]
	return ok && r.AtLeast(min)
}

// Token is one API token: the name recorded in the audit trail, the secret
// value, and its role.
type Token struct {
	Name  string
	Value string
	Role  Role
}

// Tokens checks presented token values against the configured tokens: the
// one token check of the API and the page.
type Tokens struct {
	tokens []Token
	sums   [][sha256.Size]byte
}

// NewTokens returns the check of ts.
func NewTokens(ts []Token) *Tokens {
	t := &Tokens{tokens: append([]Token(nil), ts...)}
	for _, x := range ts {
		t.sums = append(t.sums, sha256.Sum256([]byte(x.Value)))
	}
	return t
}

// Len is the number of configured tokens; none refuses everyone.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.tokens)
}

// Check returns the token whose value is value. Values are compared as
// SHA-256 sums in constant time against every token, with no early exit, so
// neither a token's content nor its length nor its position shows in the
// timing. The empty value matches nothing.
func (t *Tokens) Check(value string) (Token, bool) {
	if t == nil || value == "" {
		return Token{}, false
	}
	sum := sha256.Sum256([]byte(value))
	found := -1
	for i := range t.sums {
		eq := subtle.ConstantTimeCompare(sum[:], t.sums[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Token{}, false
	}
	return t.tokens[found], true
}
