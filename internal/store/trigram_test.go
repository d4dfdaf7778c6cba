package store

import (
	"reflect"
	"testing"
)

func TestRunPieces(t *testing.T) {
	for _, tc := range []struct {
		run  string
		want []string
	}{
		{"deploy", nil}, // one word: nothing to leave out
		{"seed-4242@", []string{"seed-", "-4242@"}},
		{"tw_seed0001", []string{"tw_", "_seed0001"}},
		{"a-b", nil}, // a piece needs minTrigramTerm characters
		{"ab-cd", []string{"ab-", "-cd"}},
		{"--x--", nil},
		{"été-ßk", []string{"été-", "-ßk"}}, // pg_trgm's words are letters and digits, in any script
	} {
		if got := runPieces(tc.run); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("runPieces(%q) = %q, want %q", tc.run, got, tc.want)
		}
	}
}

func TestLookupRuns(t *testing.T) {
	runs := [][][]string{{{"seed-4242@", "deploy"}}, {{"ab-cd"}, {"xy-zw"}}}
	pieces := textPieces(runs)
	if len(pieces) != 6 {
		t.Fatalf("pieces %v, want 6", pieces)
	}
	// seed- in every sampled token; ab- and -cd both common; the others rare.
	counts := []int64{2000, 3, 500, 400, 1, 2}
	got := lookupRuns(runs, pieces, counts, 2000)
	want := [][][]string{{{"-4242@", "deploy"}}, {{"ab-cd"}, {"xy-zw"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lookupRuns = %q, want %q", got, want)
	}
	many := [][][]string{{{"a1-b2-c3-d4-e5-f6-g7-h8-i9"}}}
	if p := textPieces(many); p != nil {
		t.Errorf("textPieces of %d pieces = %v, want none (more than maxPieces)", len(runPieces(many[0][0][0])), p)
	}
}
