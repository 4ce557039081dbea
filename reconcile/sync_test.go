package reconcile

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// memMirror is an in-memory Mirror; the store's is tested against real
// databases in store/.
type memMirror struct {
	rows    map[string]GatewayRefund
	cursors map[string]SyncCursor
	saveErr error
	saves   int
}

func (m *memMirror) SyncCursor(_ context.Context, name string) (SyncCursor, bool, error) {
	c, ok := m.cursors[name]
	return c, ok, nil
}

func (m *memMirror) SaveRefunds(_ context.Context, name string, rs []GatewayRefund, c *SyncCursor) error {
	m.saves++
	if m.saveErr != nil {
		return m.saveErr
	}
	if m.rows == nil {
		m.rows, m.cursors = map[string]GatewayRefund{}, map[string]SyncCursor{}
	}
	for _, r := range rs {
		r.FailedAt = time.Time{}
		m.rows[r.ID] = r
	}
	if c != nil {
		m.cursors[name] = *c
	}
	return nil
}

func (m *memMirror) MirroredRefunds(_ context.Context, since, until time.Time, fn func(GatewayRefund) error) error {
	var ids []string
	for id, r := range m.rows {
		if s := r.Created.Unix(); s >= since.Unix() && s <= until.Unix() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := fn(m.rows[id]); err != nil {
			return err
		}
	}
	return nil
}

// memChanges serves events from a list, oldest first.
type memChanges struct {
	events []GatewayRefund // Created is the event's time here
	calls  int
}

func (m *memChanges) RefundEventsSince(_ context.Context, since time.Time, fn func(GatewayRefund) error) error {
	m.calls++
	for _, r := range m.events {
		if !r.Created.Before(since) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func listIDs(t *testing.T, g Gateway, since, until time.Time) []string {
	t.Helper()
	var ids []string
	if err := g.Refunds(context.Background(), since, until, func(r GatewayRefund) error {
		ids = append(ids, r.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

func TestSyncedGatewayDecisions(t *testing.T) {
	day := 24 * time.Hour
	now := time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)
	gw := &memGateway{refunds: []GatewayRefund{
		{ID: "re_a", Status: RefundSucceeded, Created: now.Add(-10 * day)},
		{ID: "re_b", Status: RefundPending, Created: now.Add(-5 * day)},
	}}
	mirror := &memMirror{}
	var last SyncStats
	g := &SyncedGateway{Gateway: gw, Changes: &memChanges{}, Mirror: mirror, Name: "x",
		Now: func() time.Time { return now }, Synced: func(s SyncStats) { last = s }}
	since := now.Add(-90 * day)
	step := func(d time.Duration, wantReason string, wantIDs ...string) {
		t.Helper()
		now = now.Add(d)
		gw.calls = nil
		if got := listIDs(t, g, since, now); !slices.Equal(got, wantIDs) {
			t.Fatalf("after %v: refunds %v, want %v", d, got, wantIDs)
		}
		if last.Reason != wantReason || last.Full != (wantReason != "") {
			t.Fatalf("after %v: sync %+v, want reason %q", d, last, wantReason)
		}
	}
	step(0, "first", "re_a", "re_b")
	// A refund created since is fetched, not the whole window.
	gw.refunds = append(gw.refunds, GatewayRefund{ID: "re_c", Status: RefundSucceeded, Created: now.Add(time.Hour)})
	step(day, "", "re_a", "re_b", "re_c")
	if gw.calls["list"] != 1 {
		t.Fatalf("listings %v", gw.calls)
	}
	step(6*day, "due", "re_a", "re_b", "re_c")
	// A cursor from the future is not trusted.
	mirror.cursors["x"] = SyncCursor{SyncedAt: now.Add(time.Hour), FullAt: now, From: since}
	step(0, "untrusted", "re_a", "re_b", "re_c")
	// Past the event horizon, even within FullEvery.
	g.FullEvery = 60 * day
	step(30*day, "horizon", "re_a", "re_b", "re_c")
	step(day, "", "re_a", "re_b", "re_c")
	// A window reaching before the mirror.
	since = since.Add(-day)
	step(0, "window", "re_a", "re_b", "re_c")
	g.Full = true
	step(0, "forced", "re_a", "re_b", "re_c")
	g.Full = false
	// A zero since reads the gateway, the mirror untouched.
	saves := mirror.saves
	if got := listIDs(t, g, time.Time{}, now); len(got) != 3 || mirror.saves != saves {
		t.Fatalf("whole history: %v, %d saves", got, mirror.saves-saves)
	}
}

func TestSyncedGatewayChanges(t *testing.T) {
	day := 24 * time.Hour
	now := time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)
	gw := &memGateway{refunds: []GatewayRefund{
		{ID: "re_a", Status: RefundSucceeded, Created: now.Add(-10 * day)},
		{ID: "re_b", Status: RefundPending, Created: now.Add(-5 * day)},
		{ID: "re_c", Status: RefundSucceeded, Created: now.Add(-4 * day)},
	}}
	changes := &memChanges{}
	mirror := &memMirror{}
	g := &SyncedGateway{Gateway: gw, Changes: changes, Mirror: mirror, Name: "x", Now: func() time.Time { return now }}
	since := now.Add(-90 * day)
	listIDs(t, g, since, now)

	// re_b succeeds (an event says so), re_c fails (only a balance
	// transaction says so), re_a fails with its event.
	now = now.Add(day)
	gw.refunds[1].Status = RefundSucceeded
	gw.refunds[2].Status = RefundFailed
	gw.refunds[0].Status = RefundFailed
	changes.events = []GatewayRefund{
		{ID: "re_b", Status: RefundPending, Created: now.Add(-2 * time.Hour)}, // older copy first
		{ID: "re_b", Status: RefundSucceeded, Created: now.Add(-time.Hour)},
		{ID: "re_a", Status: RefundFailed, Created: now.Add(-time.Hour)},
	}
	gw.failures = []RefundFailure{{RefundID: "re_c", FailedAt: now.Add(-time.Hour)}, {RefundID: "re_a", FailedAt: now.Add(-time.Hour)}}
	gw.calls = nil
	listIDs(t, g, since, now)
	for id, want := range map[string]GatewayStatus{"re_a": RefundFailed, "re_b": RefundSucceeded, "re_c": RefundFailed} {
		if got := mirror.rows[id].Status; got != want {
			t.Errorf("%s: mirrored %s, want %s", id, got, want)
		}
	}
	// re_c is looked up; re_a's event already showed it failed.
	if gw.calls["retrieve"] != 1 {
		t.Errorf("look-ups %v, want 1 (re_c only)", gw.calls)
	}

	// A sync whose save fails changes no cursor.
	before := mirror.cursors["x"]
	now = now.Add(day)
	mirror.saveErr = errors.New("disk full")
	if err := g.Refunds(context.Background(), since, now, func(GatewayRefund) error { return nil }); err == nil {
		t.Fatal("a failed save did not fail the listing")
	}
	mirror.saveErr = nil
	if mirror.cursors["x"] != before {
		t.Fatalf("cursor moved to %+v", mirror.cursors["x"])
	}
	// A listing that fails half way changes no cursor either.
	gw.listErr = errors.New("connection reset")
	if err := g.Refunds(context.Background(), since, now, func(GatewayRefund) error { return nil }); err == nil {
		t.Fatal("a failed listing did not fail the sync")
	}
	if mirror.cursors["x"] != before {
		t.Fatalf("cursor moved to %+v", mirror.cursors["x"])
	}
}
