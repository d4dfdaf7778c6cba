// Package edge is what every HTTP request of tokenward passes, the API's and the console's
// alike: the text and size rules applied before any handler reads a request, the mapping
// from the service's error codes to HTTP statuses, Retry-After, the client's address and
// the shape of a handler and of a route table. internal/api and internal/web both use it; neither imports
// the other.
package edge

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// Route is one registered route and the permission it needs, for the permission tests
// and the documentation: "" for any authenticated caller (or signed-in person). A public
// route (the sign-in form) needs nobody at all.
type Route struct {
	Pattern string
	Needs   tokenward.Permission
	Public  bool
}

// Handler is the one shape of an authenticated handler, the API's and the console's: it
// runs for the principal its route's registration resolved and checked (token or session,
// and the permission the route line declares), and returns its failure rather than
// writing it, so that the registration answers every failure of its surface the same way.
type Handler func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
const MaxBodyBytes = 1 << 20

// SetRetryAfter sets the Retry-After header (whole seconds, at least 1) of a 429 or 503, and
// of any refusal that says when to retry (forward auth's limited 401).
func SetRetryAfter(w http.ResponseWriter, err error) {
	if te, ok := errors.AsType[*tokenward.Error](err); ok && (te.RetryAfter > 0 || te.Code == tokenward.ETooMany || te.Code == tokenward.EUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(te.RetryAfter.Round(time.Second)/time.Second))))
	}
}

// ClientAddress returns the address failures are counted against: the connection's peer,
// or, when trustForwarded is set (tokenward behind a proxy that sets it), the last
// address in X-Forwarded-For, the one the proxy itself saw.
func ClientAddress(r *http.Request, trustForwarded bool) string {
	if trustForwarded {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// CallerOf returns what the request says about its caller, for verification: the client's
// address as ClientAddress reads it (invalid when it is not an IP address) and the user agent.
func CallerOf(r *http.Request, trustForwarded bool) tokenward.Caller {
	addr, _ := netip.ParseAddr(ClientAddress(r, trustForwarded))
	return tokenward.Caller{Address: addr.Unmap(), UserAgent: r.UserAgent()}
}

// Status returns the HTTP status of an error, for the API and the console alike.
func Status(err error) int { return StatusOf(tokenward.ErrorCode(err)) }

// StatusOf maps an error code to its HTTP status; the one place that does. Anything
// unknown (EInternal included) is 500.
func StatusOf(code string) int {
	if status, ok := statuses[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

var statuses = map[string]int{
	tokenward.EInvalid:      http.StatusBadRequest,
	tokenward.EUnauthorized: http.StatusUnauthorized,
	tokenward.EForbidden:    http.StatusForbidden,
	tokenward.ENotFound:     http.StatusNotFound,
	tokenward.EConflict:     http.StatusConflict,
	tokenward.ETooLarge:     http.StatusRequestEntityTooLarge,
	tokenward.ETooMany:      http.StatusTooManyRequests,
	tokenward.EUnavailable:  http.StatusServiceUnavailable,
}
