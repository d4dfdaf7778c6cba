// Package webhook delivers the outbox's events to webhooks: the dispatcher claims due
// deliveries from the database, POSTs them signed per the Standard Webhooks specification
// and records each attempt. Several instances on one database share the work; each
// delivery is held by one of them at a time.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tokenward/tokenward"
)

// Store is what the dispatcher needs from the database.
type Store interface {
	// ClaimDelivery takes a due pending delivery for lease; ok is false when none is due.
	ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (c tokenward.DeliveryClaim, ok bool, err error)
	// FinishDelivery records an attempt and the delivery's state after it.
	FinishDelivery(ctx context.Context, c tokenward.DeliveryClaim, a tokenward.DeliveryAttempt, state string, next time.Time) error
}

// Config tunes a Dispatcher; zero fields take the defaults in parentheses.
type Config struct {
	Backoff time.Duration // the first retry's delay, doubled each time up to MaxBackoff (10 s)
	// MaxBackoff caps the delay between attempts (1 h).
	MaxBackoff time.Duration
	Lease      time.Duration // how long a claim holds a delivery (1 min); longer than Timeout
	Poll       time.Duration // how often to look for due deliveries when idle (1 s)
	Timeout    time.Duration // each POST's (10 s)
	Workers    int           // deliveries sent at once by this instance (4)
	Client     *http.Client  // http.DefaultClient's transport when nil
	Logger     *slog.Logger
}

// Dispatcher sends deliveries until its context ends.
type Dispatcher struct {
	store Store
	cfg   Config
}

// New returns a dispatcher over store.
func New(store Store, cfg Config) *Dispatcher {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Backoff, 10*time.Second)
	def(&cfg.MaxBackoff, time.Hour)
	def(&cfg.Lease, time.Minute)
	def(&cfg.Poll, time.Second)
	def(&cfg.Timeout, 10*time.Second)
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// A lease shorter than a POST could end while the POST runs and let a second
	// instance send the same delivery needlessly.
	cfg.Lease = max(cfg.Lease, cfg.Timeout+time.Second)
	return &Dispatcher{store: store, cfg: cfg}
}

// Run sends due deliveries with cfg.Workers workers until ctx ends. A delivery that is
// under way when ctx ends is left to its lease.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() { d.work(ctx) })
	}
	wg.Wait()
}

func (d *Dispatcher) work(ctx context.Context) {
	for ctx.Err() == nil {
		c, ok, err := d.store.ClaimDelivery(ctx, time.Now(), d.cfg.Lease)
		if err != nil && ctx.Err() == nil {
			d.cfg.Logger.Warn("webhook deliveries: claim failed", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-time.After(d.cfg.Poll):
			}
			continue
		}
		d.deliver(ctx, c)
	}
}

// deliver sends one claimed delivery and records the attempt.
func (d *Dispatcher) deliver(ctx context.Context, c tokenward.DeliveryClaim) {
	a := d.send(ctx, c)
	if ctx.Err() != nil {
		return // shutting down: the lease brings it back
	}
	state, next := tokenward.DeliveryDelivered, a.At
	if a.Status < 200 || a.Status > 299 {
		state, next = tokenward.DeliveryPending, a.At.Add(d.backoff(c.Claim))
		if next.After(c.RetryUntil) {
			state = tokenward.DeliveryFailed
		}
	}
	if err := d.store.FinishDelivery(context.WithoutCancel(ctx), c, a, state, next); err != nil {
		d.cfg.Logger.Warn("webhook deliveries: could not record an attempt", "delivery", c.ID, "err", err)
	}
}

// backoff is the delay after the nth failed attempt: exponential, capped, with full jitter
// over its upper half so that receivers coming back are not hit by every retry at once.
func (d *Dispatcher) backoff(n int) time.Duration {
	delay := d.cfg.MaxBackoff
	if n < 30 {
		delay = min(d.cfg.Backoff<<(n-1), d.cfg.MaxBackoff)
	}
	return delay/2 + rand.N(delay/2+1)
}

// send POSTs the delivery, signed with the real clock's time (receivers check it against
// theirs), and returns the attempt.
func (d *Dispatcher) send(ctx context.Context, c tokenward.DeliveryClaim) (a tokenward.DeliveryAttempt) {
	start := time.Now()
	a.At = start.UTC()
	defer func() { a.Duration = time.Since(start) }()
	wh, err := standardwebhooks.NewWebhook(c.Secret)
	if err != nil {
		a.Error = "the webhook's signing secret is unusable"
		return a
	}
	signature, err := wh.Sign(c.EventID, start, c.Payload)
	if err != nil {
		a.Error = "signing failed"
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(c.Payload))
	if err != nil {
		a.Error = "the webhook's url is unusable"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tokenward-webhooks")
	req.Header.Set("webhook-id", c.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", signature)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		a.Error = describe(err)
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxExcerpt))
	a.Excerpt = excerpt(body)
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return a
}

// MaxExcerpt is how much of an answer's body the delivery log keeps.
const MaxExcerpt = 256

// describe returns a transport error without the URL Go's client puts in it: a webhook URL
// may carry a credential, and the log is shown in the console.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		err = ue.Err
	}
	return err.Error()
}

// excerpt returns the start of a body as valid text.
func excerpt(body []byte) string {
	return strings.ToValidUTF8(strings.ReplaceAll(string(body), "\x00", ""), "\uFFFD")
}
