// Package gateway owns Stripe: it reads refunds, charges and refund-failure
// balance transactions through the real stripe-go client and converts them to
// reconcile's types at its boundary, so no stripe-go type and no *stripe.Error
// leaves this package.
//
// The adapter is read-only (its HTTP transport refuses anything but GET), holds
// one rate limiter shared by all its workers, and retries what Stripe or the
// network may fix by themselves: 429, 500, 502, 503, 504, network errors and
// attempts that time out.
//
// It imports reconcile, stripe-go and golang.org/x/time/rate only; it must not
// import store or any other adapter. The fake Stripe API server for tests and
// the demo lives in the subpackage fakestripe.
package gateway
