package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/tokenward/tokenward/internal/loop"
)

// Go's collector starts a cycle once the heap has grown by GOGC percent (100 by default)
// of what the last cycle left live, and every cycle marks all of that live heap. A small
// instance keeps about 4 MiB live and net/http allocates about 2 KiB a request, so under
// forward-auth load it collected 16 times a second: 7% of its CPU in a profile under wrk,
// where a bare net/http server, with almost nothing live, spent 2%. Letting the heap grow
// by at least gcHeadroom between cycles makes a small instance collect as rarely as a
// large one (in that run: about 3 µs less CPU per verdict, 25 to 22), at the price of that
// much more memory at most. An instance whose live heap is above gcHeadroom (a few
// hundred thousand tokens and up) keeps Go's default.

// gcHeadroom is the least the heap may grow by between two collections.
const gcHeadroom = 32 << 20

// gcPaceInterval is how often the pace follows the live heap, which changes slowly (the
// index grows with tokens generated).
const gcPaceInterval = 10 * time.Second

// goHeapMinimum is the heap size below which Go does not collect at GOGC=100; it scales
// with GOGC, so a large GOGC on a small heap would raise it past the headroom.
const goHeapMinimum = 4 << 20

// gcPercent is the GOGC that lets a heap with live bytes grow by gcHeadroom before the
// next collection, and never less than Go's default of 100. Before the first collection
// live is 0: then the heap may grow to gcHeadroom.
func gcPercent(live uint64) int {
	percent := uint64((live + gcHeadroom) * 100 / goHeapMinimum)
	if live > 0 {
		percent = min(percent, gcHeadroom*100/live)
	}
	return int(max(100, percent))
}

// paceGC sets the collector's GOGC from the live heap now and every gcPaceInterval until
// ctx ends. An operator who sets GOGC in the environment keeps it: then it does nothing.
// GOMEMLIMIT is still honoured either way; the collector runs more often near the limit.
func paceGC(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	pace := func(context.Context) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercent(sample[0].Value.Uint64()))
		}
	}
	pace(ctx)
	loop.Every(ctx, gcPaceInterval, pace)
}
