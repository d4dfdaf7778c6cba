// Package loop runs the background work of an instance at a steady pace: the verifier's
// usage flushes and the lifecycle sweeps.
package loop

import (
	"context"
	"time"
)

// Every calls do every interval, first after one interval, until ctx ends; a call still
// running delays the next tick rather than overlapping it.
func Every(ctx context.Context, interval time.Duration, do func(ctx context.Context)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			do(ctx)
		}
	}
}
