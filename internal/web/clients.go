package web

import (
	"time"
	"unicode/utf8"
)

// How the console shows a token's recent clients (tokenward.RecentClient): in the row's
// "Last used" cell, a disclosure listing each client's address, user agent and how long
// ago it was seen. A user agent is the caller's text: it goes through visible (quoted when
// it holds control or invisible characters) and the templates' escaping, cut short in the
// row with the whole of it in a title.

// ago says how long before now t was, in the largest whole unit ("just now" under a
// minute; a t after now, from another instance's clock, is "just now" too).
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	default:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}

// cut returns s cut to n characters, with an ellipsis when it was longer.
func cut(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n-1 {
			return s[:k] + "…"
		}
		i++
	}
	return s
}
