package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// stripeLogger bridges stripe-go's LeveledLoggerInterface to slog.
//
// stripe-go's info lines are per-request chatter, so they go to Debug. Its
// error lines describe an error it also returns to us, which we return to
// the caller, who logs it once: logging it at Error here too would log and
// return the same error, so they go to Debug as well. Its warnings stay
// warnings. Its debug dump of every response body is dropped: it is large
// and holds customer data.
type stripeLogger struct {
	log    *slog.Logger
	redact func(string) string
}

func (l stripeLogger) Debugf(format string, v ...any) {
	if strings.HasPrefix(format, "Response: ") {
		return
	}
	l.emit(slog.LevelDebug, format, v)
}

func (l stripeLogger) Infof(format string, v ...any)  { l.emit(slog.LevelDebug, format, v) }
func (l stripeLogger) Warnf(format string, v ...any)  { l.emit(slog.LevelWarn, format, v) }
func (l stripeLogger) Errorf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }

func (l stripeLogger) emit(level slog.Level, format string, v []any) {
	ctx := context.Background() // the interface carries none
	if !l.log.Enabled(ctx, level) {
		return // do not format what nobody reads: one line per request adds up
	}
	l.log.LogAttrs(ctx, level, l.redact(fmt.Sprintf(format, v...)), slog.String("component", "stripe-go"))
}
