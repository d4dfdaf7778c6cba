package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/tokenward/tokenward"
)

// Bulk revocation (reference §14, ours).

// jobModel is a bulk revocation job as GET /api/v2/job/{jobId} answers it.
type jobModel struct {
	State  tokenward.JobState `json:"state"`
	Total  int                `json:"total"`
	Done   int                `json:"done"`
	Failed int                `json:"failed"`
}

// revokeBulk answers POST /api/v2/apitoken/customertokens/revoke-bulk: it creates the job
// and answers 202 with its id and the number of tokens it snapshotted; the revocations
// happen in the background (GET /api/v2/job/{jobId}).
func (s *Server) revokeBulk(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var body struct {
		IDs           []string        `json:"ids"`
		Account       string          `json:"account"`
		Query         json.RawMessage `json:"query"`
		ExpectedCount *int            `json:"expectedCount"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	req := tokenward.RevokeRequest{IDs: body.IDs, Account: body.Account, ExpectedCount: body.ExpectedCount}
	if q := bytes.TrimSpace(body.Query); len(q) > 0 && !bytes.Equal(q, []byte("null")) {
		search, err := bulkSearch(q)
		if err != nil {
			return err
		}
		req.Query = &search
	}
	job, err := s.service.StartRevokeJob(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, container{Status: status{Result: "OK", Code: http.StatusAccepted},
		Response: map[string]any{"jobId": job.ID, "total": job.Total}})
	return nil
}

// bulkSearch reads a bulk revocation's query: a search request as POST /api/v2/search/token
// takes it or, as a convenience, the list of its conditions alone.
func bulkSearch(q json.RawMessage) (tokenward.SearchRequest, error) {
	var search tokenward.SearchRequest
	var err error
	if q[0] == '[' {
		err = json.Unmarshal(q, &search.Query)
	} else {
		err = json.Unmarshal(q, &search)
	}
	if err != nil {
		return search, tokenward.Errorf(tokenward.EInvalid, "query must be a search request: {\"query\": [conditions]}")
	}
	return search, nil
}

// revokeJob answers GET /api/v2/job/{jobId} with the job's state and progress.
func (s *Server) revokeJob(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	job, err := s.service.RevokeJobOf(r.Context(), p, r.PathValue("jobId"))
	if err != nil {
		return err
	}
	writeOK(w, jobModel{State: job.State(), Total: job.Total, Done: job.Done, Failed: job.Failed})
	return nil
}
