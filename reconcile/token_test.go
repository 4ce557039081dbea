package reconcile

import (
	"errors"
	"testing"
)

// Every role against every action: the contract's API_TOKENS row.
func TestRoleAllows(t *testing.T) {
	want := map[Role]map[Action]bool{
		RoleViewer:  {ActionRead: true},
		RoleSupport: {ActionRead: true, ActionCheck: true},
		RoleFinance: {ActionRead: true, ActionCheck: true, ActionReview: true},
		RoleAdmin:   {ActionRead: true, ActionCheck: true, ActionReview: true, ActionRelease: true},
		"root":      {},
	}
	for role, allowed := range want {
		for _, a := range []Action{ActionRead, ActionCheck, ActionReview, ActionRelease, "delete"} {
			if got := role.Allows(a); got != allowed[a] {
				t.Errorf("%q allows %q: %v, want %v", role, a, got, allowed[a])
			}
		}
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"": RoleFinance, "viewer": RoleViewer, "support": RoleSupport, "finance": RoleFinance, "admin": RoleAdmin} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Admin", "root", " viewer"} {
		if _, err := ParseRole(in); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseRole(%q): %v, want a configuration error", in, err)
		}
	}
}

func TestTokensCheck(t *testing.T) {
	ts := NewTokens([]Token{{Name: "a", Value: "tok_a_0123456789abcdef", Role: RoleViewer}, {Name: "b", Value: "tok_b_0123456789abcdef", Role: RoleAdmin}})
	if got, ok := ts.Check("tok_b_0123456789abcdef"); !ok || got.Name != "b" || got.Role != RoleAdmin {
		t.Errorf("b: %+v %v", got, ok)
	}
	if got, ok := ts.Check("tok_a_0123456789abcdef"); !ok || got.Name != "a" {
		t.Errorf("a: %+v %v", got, ok)
	}
	for _, v := range []string{"", "tok_a_0123456789abcde", "tok_a_0123456789abcdefg"} {
		if _, ok := ts.Check(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
	if _, ok := (*Tokens)(nil).Check("x"); ok || (*Tokens)(nil).Len() != 0 {
		t.Error("no tokens accept something")
	}
}
