package reconcile

import (
	"encoding/json"
	"time"
)

// The contract's JSON run report. Every field is present; absent values are
// null, and gateway_refund_ids is always a list.

type jsonScope struct {
	Since      string  `json:"since"`
	Until      string  `json:"until"`
	CustomerID *string `json:"customer_id"`
}

type jsonCounts struct {
	LedgerRefunds  int `json:"ledger_refunds"`
	GatewayRefunds int `json:"gateway_refunds"`
	Matched        int `json:"matched"`
	Discrepancies  int `json:"discrepancies"`
}

type jsonReport struct {
	RunID         string        `json:"run_id"`
	Scope         jsonScope     `json:"scope"`
	StartedAt     string        `json:"started_at"`
	FinishedAt    *string       `json:"finished_at"`
	Status        RunStatus     `json:"status"`
	Error         *string       `json:"error,omitempty"`
	Counts        jsonCounts    `json:"counts"`
	Discrepancies []Discrepancy `json:"discrepancies"`
}

type jsonDiscrepancy struct {
	ID               string   `json:"id"`
	Kind             Kind     `json:"kind"`
	Status           Status   `json:"status"`
	New              bool     `json:"new"`
	CustomerID       *string  `json:"customer_id"`
	LedgerRefundID   *string  `json:"ledger_refund_id"`
	GatewayRefundIDs []string `json:"gateway_refund_ids"`
	ChargeID         *string  `json:"charge_id"`
	Currency         *string  `json:"currency"`
	LedgerAmount     *int64   `json:"ledger_amount"`
	GatewayAmount    *int64   `json:"gateway_amount"`
	GatewayStatus    *string  `json:"gateway_status"`
	FailureReason    *string  `json:"failure_reason"`
	Detail           string   `json:"detail"`
	FirstSeenAt      *string  `json:"first_seen_at"`
	LastSeenAt       *string  `json:"last_seen_at"`
}

// MarshalJSON encodes the report as the contract's JSON run report.
func (rep Report) MarshalJSON() ([]byte, error) {
	run := rep.Run
	since := run.Scope.Since
	if since.IsZero() {
		since = time.Unix(0, 0) // the whole history
	}
	ds := rep.Discrepancies
	if ds == nil {
		ds = []Discrepancy{}
	}
	out := jsonReport{
		RunID:      run.ID,
		Scope:      jsonScope{Since: rfc3339(since), Until: rfc3339(run.Scope.Until), CustomerID: nullable(run.Scope.CustomerID)},
		StartedAt:  rfc3339(run.StartedAt),
		FinishedAt: nullableTime(run.FinishedAt),
		Status:     run.Status,
		Error:      nullable(run.Error),
		Counts: jsonCounts{
			LedgerRefunds:  run.Counts.LedgerRefunds,
			GatewayRefunds: run.Counts.GatewayRefunds,
			Matched:        run.Counts.Matched,
			Discrepancies:  run.Counts.Discrepancies,
		},
		Discrepancies: ds,
	}
	return json.Marshal(out)
}

// MarshalJSON encodes a discrepancy as in the contract's report.
func (d Discrepancy) MarshalJSON() ([]byte, error) {
	ids := d.GatewayRefundIDs
	if ids == nil {
		ids = []string{}
	}
	return json.Marshal(jsonDiscrepancy{
		ID:               d.ID,
		Kind:             d.Kind,
		Status:           d.Status,
		New:              d.New,
		CustomerID:       nullable(d.CustomerID),
		LedgerRefundID:   nullable(d.LedgerRefundID),
		GatewayRefundIDs: ids,
		ChargeID:         nullable(d.ChargeID),
		Currency:         nullable(d.Currency),
		LedgerAmount:     d.LedgerAmount,
		GatewayAmount:    d.GatewayAmount,
		GatewayStatus:    nullable(string(d.GatewayStatus)),
		FailureReason:    nullable(d.FailureReason),
		Detail:           d.Detail,
		FirstSeenAt:      nullableTime(d.FirstSeenAt),
		LastSeenAt:       nullableTime(d.LastSeenAt),
	})
}

// UnmarshalJSON decodes a discrepancy from the contract's report form.
func (d *Discrepancy) UnmarshalJSON(b []byte) error {
	var in jsonDiscrepancy
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*d = Discrepancy{
		ID: in.ID, Kind: in.Kind, Status: in.Status, New: in.New,
		CustomerID: deref(in.CustomerID), LedgerRefundID: deref(in.LedgerRefundID),
		GatewayRefundIDs: in.GatewayRefundIDs, ChargeID: deref(in.ChargeID),
		Currency: deref(in.Currency), LedgerAmount: in.LedgerAmount, GatewayAmount: in.GatewayAmount,
		GatewayStatus: GatewayStatus(deref(in.GatewayStatus)), FailureReason: deref(in.FailureReason),
		Detail: in.Detail,
	}
	for _, p := range []struct {
		s *string
		t *time.Time
	}{{in.FirstSeenAt, &d.FirstSeenAt}, {in.LastSeenAt, &d.LastSeenAt}} {
		if p.s == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *p.s)
		if err != nil {
			return err
		}
		*p.t = t
	}
	return nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullableTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
