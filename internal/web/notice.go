package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// A notice is the one-line status a page shows after a form did something ("Token
// revoked."). Only the console's own handlers write one: the text travels in a short-lived
// cookie authenticated with the session's secret, never in the address, so that a link
// cannot make a genuine-looking banner say what its author wants (issue "Hostile input"),
// and a reload, a bookmark or a Share link does not show it again.
const (
	noticeCookieName       = "tokenward_notice"
	secureNoticeCookieName = "__Host-tokenward_notice"
	maxNoticeBytes         = 1000 // a cookie holds 4 KiB; notices are one sentence
)

func noticeCookie(r *http.Request) string {
	if r.TLS != nil {
		return secureNoticeCookieName
	}
	return noticeCookieName
}

// noticeMAC binds text to the session: without its secret (an HttpOnly cookie) nobody,
// not even a sibling host that can plant cookies, forges a notice.
func noticeMAC(session, text string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("tokenward notice\x00" + text))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setNotice makes text the notice of the next page the browser shows. Without a session
// there is nobody to show it to.
func setNotice(w http.ResponseWriter, r *http.Request, text string) {
	session := sessionSecret(r)
	if session == "" || text == "" {
		return
	}
	if len(text) > maxNoticeBytes {
		text = strings.ToValidUTF8(text[:maxNoticeBytes], "") + "…"
	}
	http.SetCookie(w, &http.Cookie{
		Name: noticeCookie(r), Value: base64.RawURLEncoding.EncodeToString([]byte(text)) + "." + noticeMAC(session, text),
		Path: "/", MaxAge: 60, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// takeNotice returns the notice waiting for this page, if it is genuine, and clears it so
// that it shows once.
func takeNotice(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(noticeCookie(r))
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: noticeCookie(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	encoded, mac, ok := strings.Cut(ck.Value, ".")
	text, err := base64.RawURLEncoding.DecodeString(encoded)
	session := sessionSecret(r)
	if !ok || err != nil || session == "" || !hmac.Equal([]byte(mac), []byte(noticeMAC(session, string(text)))) {
		return ""
	}
	return string(text)
}
