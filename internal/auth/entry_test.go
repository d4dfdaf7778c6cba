package auth

import (
	"testing"
	"unsafe"
)

// TestEntryStaysSmall: an index entry is 48 bytes (its allocation size class) with the
// restrictions pointer, so a million tokens cost what they did before restrictions.
func TestEntryStaysSmall(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got > 56 {
		t.Errorf("an index entry is %d bytes, want at most 56, the 64-byte size class (field order: see entry)", got)
	}
}
