// Package alert delivers the alert outbox: the messages the store enqueues,
// in the same transaction as the change, when a discrepancy opens, reopens
// or resolves. A Dispatcher claims due alerts, sends each on its channel
// (Slack incoming webhook, PagerDuty Events API v2, the contract's signed
// generic webhook), marks it delivered, and retries a failure with
// exponential backoff, honouring Retry-After.
//
// Each outbox row is sent once: a claim is a lease held by one process, and
// the row is marked delivered as soon as its receiver accepts it. A crash
// between the store's commit and the send leaves the row pending for the next
// run or serve. Only a crash between the receiver's answer and the mark can
// send a row again (when its lease ends); the receivers' idempotency keys
// (PagerDuty's dedup_key, the webhook's Refundrecon-Delivery header) absorb
// that repeat.
//
// Secrets (the Slack URL, the PagerDuty routing key, the webhook secret and
// any credentials in a URL) never appear in an error or a log line: URLs
// are shown as scheme and host only.
//
// It imports reconcile, money and the standard library only: never store,
// gateway, report or any other adapter. The outbox is an interface the store
// satisfies.
package alert
