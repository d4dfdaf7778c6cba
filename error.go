package tokenward

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to exactly one HTTP status in internal/api; the store, the service
// and the console all speak in these codes so that one failure reads the same everywhere.
const (
	EInvalid      = "invalid"      // the request is malformed or breaks a rule (400)
	EUnauthorized = "unauthorized" // no credentials, or credentials that do not verify (401)
	EForbidden    = "forbidden"    // authenticated, but lacking a permission (403)
	ENotFound     = "not_found"    // the named thing does not exist for this caller (404)
	EConflict     = "conflict"     // the thing already exists (409)
	ETooLarge     = "too_large"    // the request body is over the limit (413)
	ETooMany      = "too_many"     // too many failures from this source or for this account (429)
	EUnavailable  = "unavailable"  // the server is at capacity for this kind of work; try again (503)
	EInternal     = "internal"     // anything else; the message never carries internals (500)
)

// Error is tokenward's one error type: a code for programs and a message for people. The
// message is shown to API clients verbatim, so it must never contain a secret or an
// internal detail; wrap internal errors with fmt.Errorf and %w instead, which ErrorCode
// reports as EInternal.
type Error struct {
	Code    string
	Message string
	// RetryAfter, for ETooMany and EUnavailable, is how long until the caller may try again.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("tokenward: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	// AsType, not As: As needs a pointer to a variable, which escapes, so every call
	// allocated, also on the verification path, where err is nil.
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the public message of the first *Error in err's chain, or a generic
// sentence for internal errors so that their details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}
