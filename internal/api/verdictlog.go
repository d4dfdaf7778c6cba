package api

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Forward auth answers every request a proxy sends, often thousands a second: a log line
// per verdict would cost more than the verdict (a CPU profile put the access log at 11% of
// the server's time, verification at 1.4%). By default its verdicts are counted and logged
// as one line a second at most; Config.LogEveryVerdict logs each as any other request.

// verdictStatuses are the statuses forward auth answers, each with its own counters.
var verdictStatuses = [...]int{http.StatusOK, http.StatusUnauthorized, http.StatusForbidden,
	http.StatusBadRequest, http.StatusTooManyRequests, http.StatusInternalServerError}

// verdictLog counts forward-auth verdicts by status and logs the counts when a second has
// passed since its last line, on the request that notices it. Requests never wait for it.
type verdictLog struct {
	counts [len(verdictStatuses) + 1]atomic.Int64 // the last: any other status
	last   atomic.Int64                           // unix nanoseconds of the last line
	// requests are the request counter's children for each route and status, bound once
	// so that counting allocates nothing.
	requests map[string]*[len(verdictStatuses) + 1]prometheus.Counter
}

func newVerdictLog(requests *prometheus.CounterVec, routes ...string) *verdictLog {
	l := &verdictLog{requests: map[string]*[len(verdictStatuses) + 1]prometheus.Counter{}}
	for _, route := range routes {
		var bound [len(verdictStatuses) + 1]prometheus.Counter
		for i, status := range verdictStatuses {
			bound[i] = requests.WithLabelValues(route, statusText(status))
		}
		bound[len(verdictStatuses)] = nil // another status: counted through the vector
		l.requests[route] = &bound
	}
	l.last.Store(time.Now().UnixNano())
	return l
}

func statusText(status int) string {
	switch status {
	case http.StatusOK:
		return "200"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusBadRequest:
		return "400"
	case http.StatusTooManyRequests:
		return "429"
	}
	return "500"
}

func slot(status int) int {
	for i, s := range verdictStatuses {
		if s == status {
			return i
		}
	}
	return len(verdictStatuses)
}

// note counts one verdict of route and reports whether it did (false: not a forward-auth
// route, which the caller logs and counts as any request). Once a second it logs the
// counts since its last line; at is the request's start, read once for its duration too.
func (l *verdictLog) note(logger *slog.Logger, route string, status int, requests *prometheus.CounterVec, at time.Time) bool {
	bound, ok := l.requests[route]
	if !ok {
		return false
	}
	i := slot(status)
	if c := bound[i]; c != nil {
		c.Inc()
	} else {
		requests.WithLabelValues(route, statusText(status)).Inc()
	}
	l.counts[i].Add(1)
	now := at.UnixNano()
	if last := l.last.Load(); now-last >= int64(time.Second) && l.last.CompareAndSwap(last, now) {
		attrs := make([]any, 0, 2*len(l.counts)+2)
		for j := range l.counts {
			if n := l.counts[j].Swap(0); n > 0 {
				name := "other"
				if j < len(verdictStatuses) {
					name = statusText(verdictStatuses[j])
				}
				attrs = append(attrs, "status_"+name, n)
			}
		}
		attrs = append(attrs, "seconds", float64(now-last)/float64(time.Second))
		logger.Info("forward auth verdicts", attrs...)
	}
	return true
}
