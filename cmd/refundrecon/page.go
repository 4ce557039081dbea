package main

import (
	"context"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/web"
)

// pageStore adapts the store to the finance page's needs.
type pageStore struct{ db *store.DB }

var _ web.Store = pageStore{}

func (p pageStore) Page(ctx context.Context, q web.Query) ([]reconcile.Discrepancy, int, error) {
	return p.db.Page(ctx, store.PageQuery{
		Statuses: q.Statuses, Kind: q.Kind, CustomerID: q.CustomerID, Since: q.Since, Until: q.Until,
		MinAmount: q.MinAmount, Limit: q.Limit, Offset: q.Offset,
	})
}

func (p pageStore) Currencies(ctx context.Context) ([]string, error) { return p.db.Currencies(ctx) }

func (p pageStore) Discrepancy(ctx context.Context, id string) (reconcile.Discrepancy, error) {
	return p.db.Discrepancy(ctx, id)
}

func (p pageStore) History(ctx context.Context, id string) ([]web.Event, error) {
	events, err := p.db.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]web.Event, len(events))
	for i, e := range events {
		out[i] = web.Event{At: e.At, Actor: e.Actor, Action: e.Action, FromStatus: e.FromStatus, Status: e.ToStatus, Note: e.Note}
	}
	return out, nil
}

func (p pageStore) Acknowledge(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error) {
	return p.db.Acknowledge(ctx, id, actor, note)
}

func (p pageStore) Resolve(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error) {
	return p.db.Resolve(ctx, id, actor, note)
}
