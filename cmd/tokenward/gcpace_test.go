package main

import (
	"context"
	"os"
	"runtime/debug"
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

// TestPaceGC checks that serving sets the pace, and that a GOGC set by the operator wins.
func TestPaceGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		env  string // GOGC, "" for unset
		want func(int) bool
	}{
		{"", func(p int) bool { return p > 100 }}, // a test binary's live heap is small
		{"50", func(p int) bool { return p == 100 }},
	} {
		t.Setenv("GOGC", tc.env) // restored after the test
		if tc.env == "" {
			os.Unsetenv("GOGC")
		}
		debug.SetGCPercent(100)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		paceGC(ctx)
		cancel()
		if got := debug.SetGCPercent(100); !tc.want(got) {
			t.Errorf("GOGC=%q: paced to %d", tc.env, got)
		}
	}
}
