package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tokenward/tokenward"
)

// auditEventJSON is an audit event as the API reports it.
type auditEventJSON struct {
	ID     int64  `json:"id"`
	Time   int64  `json:"time"`
	Actor  string `json:"actor"`
	Source string `json:"source"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

func toAuditEvent(e tokenward.AuditEvent) auditEventJSON {
	return auditEventJSON{ID: e.ID, Time: e.At.UnixMilli(), Actor: e.Actor, Source: e.Source, Action: e.Action, Target: e.Target, Detail: e.Detail}
}

// auditTrail serves GET /api/v2/audit?actor=&target=&action=&start=&end=&offset=&limit=,
// newest first; start and end are epoch milliseconds.
func (s *Server) auditTrail(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	page, err := pageQuery(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := tokenward.AuditFilter{Actor: q.Get("actor"), Target: q.Get("target"), Action: q.Get("action"), Offset: page.Offset, Limit: page.Limit}
	for name, dst := range map[string]*time.Time{"start": &f.Start, "end": &f.End} {
		if v := q.Get(name); v != "" {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return tokenward.Errorf(tokenward.EInvalid, "%s must be epoch milliseconds", name)
			}
			*dst = time.UnixMilli(ms)
		}
	}
	events, err := s.service.AuditTrail(r.Context(), p, f)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(events, toAuditEvent))
	return nil
}
