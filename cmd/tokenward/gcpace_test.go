package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// TestGCPercent checks the pace against the heap goal Go computes from it: the larger of
// live × (1 + GOGC/100) and 4 MiB × GOGC/100.
func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live    uint64
		percent int
	}{
		{0, 800},         // before the first collection: the minimum heap is the headroom
		{1 * mib, 825},   // goal 33 MiB, capped by the minimum heap it scales
		{4 * mib, 800},   // goal 36 MiB: 32 MiB of headroom
		{16 * mib, 200},  // goal 48 MiB
		{32 * mib, 100},  // Go's default from here on
		{600 * mib, 100}, // a million tokens: unchanged
		{1 << 40, 100},
	} {
		got := gcPercent(tc.live)
		if got != tc.percent {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tc.live/mib, got, tc.percent)
		}
		goal := max(tc.live*uint64(100+got)/100, goHeapMinimum*uint64(got)/100)
		if got > 100 && goal > tc.live+gcHeadroom {
			t.Errorf("live %d MiB: heap goal %d MiB is past the headroom", tc.live/mib, goal/mib)
		}
	}
}

// TestPaceGC checks that serving sets the pace after every collection, so that a heap
// that grows past the headroom gets Go's default back, and that a GOGC set by the
// operator wins.
func TestPaceGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	paced := func(want func(int) bool) int {
		t.Helper()
		var got int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			runtime.GC()
			got = gogc()
			if want(got) {
				return got
			}
		}
		t.Fatalf("GOGC is %d", got)
		return got
	}
	t.Run("unset", func(t *testing.T) {
		t.Setenv("GOGC", "") // restored after the test
		os.Unsetenv("GOGC")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		debug.SetGCPercent(100)
		paceGC(ctx)
		paced(func(p int) bool { return p > 100 }) // a test binary's live heap is small
		live := make([]byte, 4*gcHeadroom)
		for i := range live {
			live[i] = byte(i) // resident, not only reserved
		}
		paced(func(p int) bool { return p == 100 })
		runtime.KeepAlive(live)
		live = nil
		paced(func(p int) bool { return p > 100 })
	})
	t.Run("set", func(t *testing.T) {
		t.Setenv("GOGC", "50")
		debug.SetGCPercent(100)
		paceGC(context.Background())
		runtime.GC()
		runtime.GC()
		if got := gogc(); got != 100 {
			t.Errorf("GOGC=50 in the environment: paced to %d", got)
		}
	})
}

// gogc reads the collector's GOGC without setting it.
func gogc() int {
	sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(sample)
	return int(sample[0].Value.Uint64())
}
