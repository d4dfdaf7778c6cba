package tokenward

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"
)

// A flash is what the console shows once, on the page a form's redirect leads to: a
// notice, or a new token's secret. Post/Redirect/Get leaves the address on a page that is
// safe to reload, so the answer to the form cannot travel in the address (a Share link or
// the history would keep it) nor in a cookie (the browser would keep a secret on disk).
// It waits in the database, where any instance behind a load balancer finds it, sealed
// with a key derived from the session's secret: the database holds only that secret's
// digest, so a copy of it opens no flash. It is deleted when read, when it expires, and
// with its session.

// FlashStore is what flashes need from the database.
type FlashStore interface {
	// PutFlash stores a sealed flash of the session with that digest until expires, and
	// drops every flash expired before now.
	PutFlash(ctx context.Context, session Digest, sealed []byte, expires, now time.Time) error
	// TakeFlashes deletes the session's flashes and returns those that had not expired at
	// now, oldest first.
	TakeFlashes(ctx context.Context, session Digest, now time.Time) ([][]byte, error)
}

// FlashLifetime bounds how long a flash waits for its page: a redirect is followed at
// once, so this only has to cover a slow network.
const FlashLifetime = 5 * time.Minute

// maxFlashBytes bounds a flash: a notice is a sentence, a secret 36 characters.
const maxFlashBytes = 4 << 10

// PutFlash keeps payload for the next TakeFlashes of the session whose cookie holds
// secret. Errors: EInvalid for an empty session or a payload over 4 KiB; others from the
// database.
func (s *Service) PutFlash(ctx context.Context, secret string, payload []byte) error {
	if secret == "" || len(payload) > maxFlashBytes {
		return Errorf(EInvalid, "a flash needs a session and at most %d bytes", maxFlashBytes)
	}
	aead, err := flashCipher(secret)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	now := s.clock()
	return s.store.PutFlash(ctx, sha256.Sum256([]byte(secret)), aead.Seal(nonce, nonce, payload, nil), now.Add(FlashLifetime), now)
}

// TakeFlashes returns, once, the payloads kept for the session whose cookie holds secret,
// oldest first; none when there are none or they expired. A flash that does not open with
// this secret is dropped. Errors: from the database.
func (s *Service) TakeFlashes(ctx context.Context, secret string) ([][]byte, error) {
	if secret == "" {
		return nil, nil
	}
	sealed, err := s.store.TakeFlashes(ctx, sha256.Sum256([]byte(secret)), s.clock())
	if err != nil || len(sealed) == 0 {
		return nil, err
	}
	aead, err := flashCipher(secret)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, box := range sealed {
		if len(box) < aead.NonceSize() {
			continue
		}
		if payload, err := aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], nil); err == nil {
			out = append(out, payload)
		}
	}
	return out, nil
}

// flashCipher is AES-256-GCM keyed by an HMAC of the session's secret, which only the
// browser holds.
func flashCipher(secret string) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tokenward console flash"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("flash cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("flash cipher: %w", err)
	}
	return aead, nil
}
