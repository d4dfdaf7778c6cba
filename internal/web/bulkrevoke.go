package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// Bulk revocation in the console (reference §14): the API Tokens table's selected rows or
// every match of its search, or every token of one account, become a job whose page
// follows it to its end.

// typeToConfirm is the number of tokens past which revoking every match of a search asks
// the person to type that number: a click is too little for a mistake that large.
const typeToConfirm = 100

// revokeMatchingData is the confirmation page of "Revoke all N matching".
type revokeMatchingData struct {
	View       tokenView
	Count      int               // the exact number of matches now
	Sample     []tokenward.Token // the first few of them
	NeedsTyped bool              // more than typeToConfirm: the number must be typed
	Back       string            // the table with this view
}

func (d *revokeMatchingData) CountText() string           { return groupDigits(d.Count) }
func (d *revokeMatchingData) TypeLabel(t string) string   { return typeLabels[t] }
func (d *revokeMatchingData) AccountLink(a string) string { return accountLink(a) }
func (d *revokeMatchingData) More() int                   { return d.Count - len(d.Sample) }
func (d *revokeMatchingData) Threshold() int              { return typeToConfirm }

// revokeMatchingView builds the confirmation page of the view that q describes.
func (c *Console) revokeMatchingView(r *http.Request, p tokenward.Principal, q url.Values) (view, error) {
	tv := parseTokenView(q)
	tv.Page, tv.Size = 1, 10
	req := tv.searchRequest(c.service.Now())
	n, err := c.service.CountMatchingTokens(r.Context(), p, req)
	if err != nil {
		return view{}, err
	}
	sample, err := c.service.SearchTokens(r.Context(), p, req)
	if err != nil {
		return view{}, err
	}
	d := &revokeMatchingData{View: tv, Count: n, Sample: sample.Items, NeedsTyped: n > typeToConfirm,
		Back: backTo("/console/accounts/api-tokens?" + tv.query(func(v *tokenView) { v.Size = 25 }))}
	return view{Title: "Revoke matching tokens", Nav: "api-tokens", Data: d}, nil
}

func (c *Console) revokeMatchingPage(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "revoke-matching", func() (view, error) { return c.revokeMatchingView(r, p, r.URL.Query()) })
}

// revokeMatching starts the job of every match of the posted view, when the number the
// person confirmed is still the number of matches (and, past typeToConfirm, was typed).
// A refusal shows the confirmation page again, with the number as it is now.
func (c *Console) revokeMatching(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	expected, err := strconv.Atoi(r.PostFormValue("expected"))
	if err != nil || expected < 0 {
		return tokenward.Errorf(tokenward.EInvalid, "the form lost the number of tokens to revoke; open the confirmation again")
	}
	typed := strings.NewReplacer(",", "", " ", "", ".", "").Replace(r.PostFormValue("confirm"))
	tv := parseTokenView(r.PostForm)
	req := tv.searchRequest(c.service.Now())
	var job tokenward.RevokeJob
	if expected > typeToConfirm && typed != strconv.Itoa(expected) {
		err = tokenward.Errorf(tokenward.EInvalid, "type the number of tokens, %s, to confirm", groupDigits(expected))
	} else {
		job, err = c.service.StartRevokeJob(r.Context(), p, tokenward.RevokeRequest{Query: &req, ExpectedCount: &expected})
	}
	if code := tokenward.ErrorCode(err); code == tokenward.EInvalid || code == tokenward.EConflict {
		v, verr := c.revokeMatchingView(r, p, r.PostForm)
		if verr != nil {
			return verr
		}
		v.Error = sentence(tokenward.ErrorMessage(err))
		c.render(w, r, edge.Status(err), "revoke-matching", v)
		return nil
	}
	if err != nil {
		return err
	}
	return c.redirect(w, r, jobPath(job.ID), flash{})
}

// revokeSelected starts the job of the rows selected in the API Tokens table.
func (c *Console) revokeSelected(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	ids := r.PostForm["token"]
	if len(ids) == 0 {
		return onPage(tokenward.Errorf(tokenward.EInvalid, "select the tokens to revoke first"), func() (view, error) {
			return c.orgTokensView(r, p)
		})
	}
	job, err := c.service.StartRevokeJob(r.Context(), p, tokenward.RevokeRequest{IDs: ids})
	if err != nil {
		return onPage(err, func() (view, error) { return c.orgTokensView(r, p) })
	}
	return c.redirect(w, r, jobPath(job.ID), flash{})
}

// revokeAccountTokens starts the job of every token of the account of the page, as many as
// the page showed (a token generated since is not revoked unseen: the job is refused).
func (c *Console) revokeAccountTokens(kind tokenward.AccountKind) func(http.ResponseWriter, *http.Request, tokenward.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		page := func() (view, error) { return c.accountView(r, p, kind) }
		a, err := c.service.AccountFor(r.Context(), p, r.PathValue("id"), kind)
		if err != nil {
			return onPage(err, page)
		}
		req := tokenward.RevokeRequest{Account: a.Identifier}
		if n, err := strconv.Atoi(r.PostFormValue("expected")); err == nil {
			req.ExpectedCount = &n
		}
		job, err := c.service.StartRevokeJob(r.Context(), p, req)
		if err != nil {
			return onPage(err, page)
		}
		return c.redirect(w, r, jobPath(job.ID), flash{})
	}
}

func jobPath(id string) string { return "/console/accounts/jobs/" + url.PathEscape(id) }

// jobData is a bulk revocation job's page.
type jobData struct {
	Job tokenward.RevokeJob
}

func (d *jobData) Running() bool     { return d.Job.State() == tokenward.JobRunning }
func (d *jobData) Handled() int      { return d.Job.Done + d.Job.Failed }
func (d *jobData) DoneText() string  { return groupDigits(d.Job.Done) }
func (d *jobData) TotalText() string { return groupDigits(d.Job.Total) }
func (d *jobData) Path() string      { return jobPath(d.Job.ID) }

// job shows a bulk revocation job: its progress while it runs (the page refreshes itself:
// htmx polls its progress section, and without JavaScript a meta refresh reloads it), and
// a summary once it is finished.
func (c *Console) job(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "job", func() (view, error) {
		j, err := c.service.RevokeJobOf(r.Context(), p, r.PathValue("id"))
		if err != nil {
			return view{}, err
		}
		return view{Title: "Bulk revocation", Nav: "api-tokens", Data: &jobData{Job: j}}, nil
	})
}
