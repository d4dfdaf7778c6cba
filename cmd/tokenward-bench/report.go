package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printReport prints the table of every engine's requests, the requests that missed the
// goal and their plans.
func printReport(out io.Writer, opts options, reports []*engineReport, notes []string, elapsed time.Duration) {
	fmt.Fprintf(out, "\n%d tokens over %d accounts; each request %d timed runs after %d warm-ups; %d rows a page; server time of Service.SearchTokens\n",
		opts.tokens, opts.accounts, opts.runs, warmups, pageSize)
	for _, r := range reports {
		fmt.Fprintf(out, "%-8s seeding %.1f s, (VACUUM) ANALYZE %.1f s, measuring %.1f s, load average %s -> %s (%s)\n",
			r.engine, r.seed.Seconds(), r.analyze.Seconds(), r.measure.Seconds(), r.loadStart, r.loadEnd, r.describe)
	}
	fmt.Fprintf(out, "\n%-9s %-36s %8s %8s %7s %5s  %s\n", "engine", "request", "p50 ms", "p95 ms", "x PK", "rows", "total")
	for _, r := range reports {
		for _, res := range append([]*result{r.baseline}, r.results...) {
			total := fmt.Sprint(res.total)
			if res.capped {
				total = "at least " + total
			}
			if res == r.baseline {
				total = ""
			}
			fmt.Fprintf(out, "%-9s %-36s %8s %8s %7s %5d  %s\n", r.engine, res.name, fmtMs(res.p50), fmtMs(res.p95),
				ratio(res.p95, r.baseline.p95), res.items, total)
		}
	}
	fmt.Fprintln(out)
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	for _, r := range reports {
		var missed []string
		for _, res := range r.results {
			if res.p95 >= opts.goal {
				missed = append(missed, fmt.Sprintf("%s (%s ms)", res.name, fmtMs(res.p95)))
			}
		}
		if len(missed) == 0 {
			fmt.Fprintf(out, "%-8s p95 under %s for every request\n", r.engine, opts.goal)
		} else {
			fmt.Fprintf(out, "%-8s p95 >= %s: %s\n", r.engine, opts.goal, strings.Join(missed, "; "))
		}
		for _, n := range r.notes {
			fmt.Fprintf(out, "%-8s note: %s\n", r.engine, n)
		}
	}
	for _, r := range reports {
		for _, res := range r.results {
			if res.plan == "" {
				continue
			}
			fmt.Fprintf(out, "\n%s, %s: p95 %s ms. plans of the queries SearchTokens runs:\n%s", r.engine, res.name, fmtMs(res.p95), res.plan)
		}
	}
	fmt.Fprintf(out, "\ntotal time %.0f s\n", elapsed.Seconds())
}

// ratio is a request's p95 over the primary-key page's, the figure to compare between runs
// on a shared machine.
func ratio(d, base time.Duration) string {
	if base <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.1fx", float64(d)/float64(base))
}

func fmtMs(d time.Duration) string {
	if v := ms(d); v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", ms(d))
}
