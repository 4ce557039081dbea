package web

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
)

// The trend: cases opened and resolved per day, and money at risk per
// currency, over trendDays, drawn on the server as SVG (no script).

const (
	trendDays   = 90
	chartWidth  = 720
	barsHeight  = 100
	lineHeight  = 48
	barStep     = chartWidth / trendDays
	barWidthSVG = 3
)

type bar struct {
	X, Y, H int
	Title   string
}

type line struct {
	Currency, Points, Latest, Peak string
}

type trendChart struct {
	From, To          string
	Width, BarsHeight int
	LineHeight        int
	Opened, Resolved  []bar
	OpenedTotal       int
	ResolvedTotal     int
	Lines             []line
}

// trend reads the last trendDays days and lays them out.
func (h *Handler) trend(ctx context.Context, now time.Time) (trendChart, error) {
	from := now.Add(-(trendDays - 1) * 24 * time.Hour)
	days, err := h.cfg.Store.Trend(ctx, from, now)
	if err != nil {
		return trendChart{}, err
	}
	c := trendChart{Width: chartWidth, BarsHeight: barsHeight, LineHeight: lineHeight}
	if len(days) == 0 {
		return c, nil
	}
	c.From, c.To = days[0].Day.Format("2006-01-02"), days[len(days)-1].Day.Format("2006-01-02")
	peak := 1
	for _, d := range days {
		peak = max(peak, d.Opened, d.Resolved)
	}
	scale := func(n int) int { return n * (barsHeight - 4) / peak }
	for i, d := range days {
		x := i * barStep
		day := d.Day.Format("2006-01-02")
		c.OpenedTotal += d.Opened
		c.ResolvedTotal += d.Resolved
		if d.Opened > 0 {
			h := scale(d.Opened)
			c.Opened = append(c.Opened, bar{X: x, Y: barsHeight - h, H: h, Title: fmt.Sprintf("%s: %d opened", day, d.Opened)})
		}
		if d.Resolved > 0 {
			h := scale(d.Resolved)
			c.Resolved = append(c.Resolved, bar{X: x + barWidthSVG + 1, Y: barsHeight - h, H: h, Title: fmt.Sprintf("%s: %d resolved", day, d.Resolved)})
		}
	}
	currencies := map[string]bool{}
	for _, d := range days {
		for cur := range d.AtRisk {
			if money.Valid(cur) {
				currencies[cur] = true
			}
		}
	}
	// One line per currency, each on its own scale: amounts of different
	// currencies are never added or compared.
	for _, cur := range slices.Sorted(maps.Keys(currencies)) {
		var most int64 = 1
		for _, d := range days {
			most = max(most, d.AtRisk[cur])
		}
		pts := make([]string, len(days))
		for i, d := range days {
			y := lineHeight - 2 - int(d.AtRisk[cur]*int64(lineHeight-4)/most)
			pts[i] = fmt.Sprintf("%d,%d", i*barStep+barStep/2, y)
		}
		code := strings.ToUpper(cur)
		c.Lines = append(c.Lines, line{Currency: code, Points: strings.Join(pts, " "),
			Latest: money.Format(days[len(days)-1].AtRisk[cur], cur), Peak: money.Format(most, cur)})
	}
	return c, nil
}
