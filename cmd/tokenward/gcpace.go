package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Go's collector starts a cycle once the heap has grown by GOGC percent (100 by default)
// of what the last cycle left live, and every cycle marks all of that live heap. A small
// instance keeps about 4 MiB live and net/http allocates about 2 KiB a request, so under
// forward-auth load it collected 16 times a second: 7% of its CPU in a profile under wrk,
// where a bare net/http server, with almost nothing live, spent 2%. Letting the heap grow
// by at least gcHeadroom between cycles makes a small instance collect as rarely as a
// large one (GODEBUG=gctrace=1 under wrk: a collection every 13,600 requests instead of
// every 2,000; tokenward-bench http: CPU per verdict from 1.4-1.6 times the bare server's
// to 1.2-1.3 times), at the price of that much more memory at most. An instance whose
// live heap is above gcHeadroom (a few hundred thousand tokens and up) keeps Go's
// default. The pace follows the live heap after every collection: a GOGC set for 4 MiB
// live must not stand when sign-ins hold 128 MiB of argon2 memory, or the next goal would
// be nine times that.

// gcHeadroom is the least the heap may grow by between two collections.
const gcHeadroom = 32 << 20

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

// paceGC sets the collector's GOGC from the live heap now and after every collection
// until ctx ends. An operator who sets GOGC in the environment keeps it: then it does
// nothing. GOMEMLIMIT is honoured either way; the collector runs more often near it.
func paceGC(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	p := &gcPacer{ctx: ctx, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.pace()
	p.arm()
}

// gcPacer sets GOGC after each collection, from a cleanup of an object made unreachable
// for the purpose: the runtime runs it once the collection has found the object dead.
type gcPacer struct {
	ctx    context.Context
	sample []metrics.Sample // read only by pace, which runs on one goroutine at a time
}

// arm makes the object whose cleanup paces after the next collection. It is 32 bytes, not
// a tiny allocation, which the runtime may keep alive with its neighbours.
func (p *gcPacer) arm() {
	runtime.AddCleanup(new([32]byte), func(p *gcPacer) {
		if p.ctx.Err() == nil {
			p.pace()
			p.arm()
		}
	}, p)
}

// pace sets GOGC from the live heap that the last collection left.
func (p *gcPacer) pace() {
	metrics.Read(p.sample)
	if p.sample[0].Value.Kind() == metrics.KindUint64 {
		debug.SetGCPercent(gcPercent(p.sample[0].Value.Uint64()))
	}
}
