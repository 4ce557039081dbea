module github.com/refundrecon/refundrecon

go 1.26.8

require (
	github.com/jmoiron/sqlx v1.4.0 // indirect
	github.com/lib/pq v1.12.3 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	github.com/stripe/stripe-go/v76 v76.25.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
