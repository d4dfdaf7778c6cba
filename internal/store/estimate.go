package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Sampling bounds of estimateMatches: sampleWindows runs of sampleWidth consecutive seq
// values, about 2,000 rows read by primary key whatever the organization's size.
const (
	sampleWindows = 8
	sampleWidth   = 256
)

// estimateMatches estimates the matches of a search whose count stopped at its cap, for
// "about N" where the count can only say "more than N". It counts the matches in a few
// windows of consecutive seq values spread over the table (primary-key ranges, so its cost
// does not grow with the organization) and scales by the width of the seq domain; gaps left
// by revoked and deleted tokens count as non-matches on both sides, so they cancel out.
// The windows are placed by a generator seeded with the table's extent: the same table
// gives the same estimate. It returns 0 when the table is small enough that the cap is
// already most of it. It runs once for s: a later call answers the same.
func (db *DB) estimateMatches(ctx context.Context, s *tokenSearch) (int, error) {
	if s.estimated != nil {
		return *s.estimated, nil
	}
	maxSeq, sampled, err := db.sampleExtent(ctx)
	if err != nil || !sampled {
		return 0, err
	}
	pieces := s.textPieces()
	sampleSQL, args := s.estimate(maxSeq, pieces)
	var matched, inSample int64
	counts := make([]int64, len(pieces))
	dest := []any{&matched, &inSample}
	for i := range counts {
		dest = append(dest, &counts[i])
	}
	if err := db.read.QueryRowContext(ctx, sampleSQL, args...).Scan(dest...); err != nil {
		return 0, fmt.Errorf("estimate matches: %w", err)
	}
	if len(pieces) > 0 {
		s.lookup = lookupRuns(s.q.runs, pieces, counts, inSample)
	}
	est := roughly(float64(matched) * float64(maxSeq) / (sampleWindows * sampleWidth))
	s.estimated, s.extent = &est, maxSeq
	return est, nil
}

// sampleExtent returns the largest seq of the tokens table, and whether the table is
// large enough for estimateMatches to sample.
func (db *DB) sampleExtent(ctx context.Context) (maxSeq int64, sampled bool, err error) {
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM tokens`).Scan(&maxSeq); err != nil {
		return 0, false, fmt.Errorf("estimate matches: %w", err)
	}
	return maxSeq, maxSeq >= 4*sampleWindows*sampleWidth, nil
}

// estimate is the query of estimateMatches for a table whose largest seq is maxSeq: the
// matches in the sample windows, the tokens sampled, and how many of those hold each of
// pieces (for lookupRuns).
func (s *tokenSearch) estimate(maxSeq int64, pieces []textPiece) (string, []any) {
	rng := rand.New(rand.NewPCG(uint64(maxSeq), 17))
	q := query{args: slices.Clone(s.q.args)}
	var ranges []string
	stride := maxSeq / sampleWindows
	for i := range int64(sampleWindows) {
		from := i*stride + 1 + rng.Int64N(stride-sampleWidth+1)
		ranges = append(ranges, fmt.Sprintf("t.seq BETWEEN %s AND %s", q.arg(from), q.arg(from+sampleWidth-1)))
	}
	// Counted with CASE rather than FILTER, or a WHERE, so that one pass over the sample
	// answers every count.
	counts := []string{"SUM(CASE WHEN " + s.q.whereClause() + " THEN 1 ELSE 0 END)", "count(*)"}
	columns := "*"
	if len(pieces) > 0 {
		columns += ", " + tokenText + " AS " + pieceText // lowered once a row, not once a piece
	}
	for _, p := range pieces {
		counts = append(counts, "COALESCE(SUM(CASE WHEN "+pieceText+" LIKE LOWER("+q.arg("%"+escapeLike(p.text)+"%")+") ESCAPE '\\' THEN 1 ELSE 0 END), 0)")
	}
	if s.engine == SQLite {
		// SQLite reads the windows by primary key as they are: NOT INDEXED leaves it no
		// other way in. A derived table, as PostgreSQL needs, copied every column of the
		// 2,048 rows first: half the query's time.
		return fmt.Sprintf(`SELECT COALESCE(%s, 0), count(*) FROM tokens t NOT INDEXED%s WHERE %s`,
			counts[0], s.join, strings.Join(ranges, " OR ")), q.args
	}
	// The windows are read by primary key and only then filtered: the LIMIT (which they
	// never reach) keeps both planners from merging the derived table into the filter,
	// where PostgreSQL would intersect the ranges with a condition's own index (a
	// BitmapAnd that read 18,000 entries of the account-type index to keep 42 rows).
	return fmt.Sprintf(`SELECT COALESCE(%s, 0), %s FROM (SELECT %s FROM tokens t WHERE %s LIMIT %d) t`,
		counts[0], strings.Join(counts[1:], ", "), columns, strings.Join(ranges, " OR "), sampleWindows*sampleWidth) + s.join, q.args
}

// pieceText names the sample's column of tokenText.
const pieceText = "tw_text"

// textPieces are the pieces of s's free-text runs that its estimate counts: on
// PostgreSQL, whose trigram lookup they narrow (lookupRuns); none on SQLite.
func (s *tokenSearch) textPieces() []textPiece {
	if s.engine != Postgres {
		return nil
	}
	return textPieces(s.q.runs)
}

// roughly rounds n to two significant digits: an estimate claims no more.
func roughly(n float64) int {
	if n < 100 {
		return int(math.Round(n))
	}
	unit := math.Pow(10, math.Floor(math.Log10(n))-1)
	return int(math.Round(n/unit) * unit)
}
