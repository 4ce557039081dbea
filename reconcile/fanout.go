package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// chargesRefunds lists the refunds of every charge of ids,
// r.ChargeConcurrency at once, and returns them in the order of ids, so that the run sees exactly what
// one-at-a-time listing would show. The first error cancels the rest and is
// returned, naming its charge. A charge the gateway does not know
// (ErrNotFound: Stripe's own 404) has no refunds.
//
// A customer check lists one page per charge: one at a time, a customer with
// 50 charges waits 50 round trips to Stripe (some 10 s at 200 ms each). A few
// at once bring it down to what the gateway's rate limit allows, which paces
// every worker together.
func (r *Runner) chargesRefunds(ctx context.Context, ids []string) ([][]GatewayRefund, error) {
	out := make([][]GatewayRefund, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan int)
	for range min(max(r.ChargeConcurrency, 1), len(ids)) {
		wg.Go(func() {
			for i := range next {
				refunds, err := r.Gateway.ChargeRefunds(ctx, ids[i])
				if errors.Is(err, ErrNotFound) {
					// The gateway has no such charge: nothing of it was
					// refunded, as confirmMissing judges it in a window run.
					refunds, err = nil, nil
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("list refunds of charge %s: %w", ids[i], err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				out[i] = refunds
			}
		})
	}
feed:
	for i := range ids {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list refunds of the customer's charges: %w", err)
	}
	return out, nil
}
