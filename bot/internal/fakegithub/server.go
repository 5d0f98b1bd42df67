// Package fakegithub is an in-memory GitHub REST API for the bot's tests.
// It implements the endpoints the bot calls (repositories, pull requests
// and their merge, branches with their protection and rulesets, branch
// deletion, issues, labels, comments, commit statuses and check runs,
// releases, App installation tokens) at the GitHub Enterprise path
// /api/v3/, and validates every request it receives and every response
// it sends against GitHub's published OpenAPI description
// (@octokit/openapi's api.github.com.json) with kin-openapi. Anything
// off-spec fails the test.
//
// Like GitHub, every reply carries X-RateLimit-* headers, a 422 carries
// the errors[] array of a validation error, and a merge is refused
// (405) while a required check of the base branch has not passed.
package fakegithub

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/golang-jwt/jwt/v4"

	"github.com/modgate/modgate/bot/internal/gitserver"
)

// Repo is a repository as the fake keeps it.
type Repo struct {
	Owner, Name   string
	DefaultBranch string
	Archived      bool
	Fork          bool
	Topics        []string
	ID            int

	// RequiredChecks are the status checks the default branch's
	// protection requires; RulesetChecks those a ruleset requires.
	RequiredChecks []string
	RulesetChecks  []string
	// Releases are the repository's releases, newest first.
	Releases []Release

	nextNum   int
	Pulls     []*Pull
	Issues    []*Issue
	Statuses  map[string][]Status   // sha -> statuses, oldest first
	CheckRuns map[string][]CheckRun // sha -> check runs, oldest first
}

// Release is a published release.
type Release struct {
	Tag, Name, Body string
	Draft           bool
	Prerelease      bool
}

// CheckRun is a check run on a commit. Status is "queued",
// "in_progress" or "completed"; Conclusion is set when completed.
type CheckRun struct{ Name, Status, Conclusion string }

// Pull is a pull request.
type Pull struct {
	Number        int
	State         string
	Merged        bool
	Title, Body   string
	Head, Base    string
	HeadSHA       string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	Comments      []string
	// MergeMethod and MergeSHA are set once the pull request is merged.
	MergeMethod string
	MergeSHA    string
	Created     time.Time
	Updated     time.Time
}

// Issue is an issue.
type Issue struct {
	Number      int
	State       string
	Title, Body string
	Labels      []string
	Created     time.Time
	Updated     time.Time
}

// Status is a commit status.
type Status struct{ State, Context, Description string }

// Call is one request seen.
type Call struct {
	Method, Path string
	// Op is the OpenAPI operationId, e.g. "pulls/create".
	Op     string
	Status int
}

// App is a GitHub App the fake accepts JWTs from.
type App struct {
	ID             int64
	InstallationID int64
	Key            *rsa.PublicKey
	// Token is the installation token handed out.
	Token string
}

// Fault makes the next N calls of Op answer Status with Header.
type Fault struct {
	Op     string
	Status int
	Header http.Header
	Body   string
	N      int
}

// Server is a running fake.
type Server struct {
	// URL is the API base URL to configure: <server>/api/v3/.
	URL string
	// Token is the token every request must carry (except App JWTs).
	Token string
	Git   *gitserver.Server
	App   *App

	t      testing.TB
	router routers.Router
	srv    *httptest.Server

	mu        sync.Mutex // protects the fields below
	repos     map[string]*Repo
	order     []string
	clock     time.Time
	calls     []Call
	faults    []*Fault
	errs      []string
	remaining int // X-RateLimit-Remaining of the next reply
	hooks     map[string][]func()
}

// rateLimit is the primary limit the fake reports.
const rateLimit = 5000

// Start starts a fake with token auth, backed by git for branch heads.
// It fails the test if the OpenAPI description cannot be loaded.
func Start(t testing.TB, token string, git *gitserver.Server) *Server {
	t.Helper()
	_, router, err := loadSpec()
	if err != nil {
		t.Fatalf("fakegithub: %v", err)
	}
	s := &Server{Token: token, Git: git, t: t, router: router, repos: map[string]*Repo{},
		clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), remaining: rateLimit}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL + "/api/v3/"
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, e := range s.errs {
			t.Errorf("fakegithub: %s", e)
		}
	})
	return s
}

// tick advances the fake's clock; every change gets a later updated_at.
func (s *Server) tick() time.Time {
	s.clock = s.clock.Add(time.Minute)
	return s.clock
}

// AddRepo registers a repository (its git side must exist on s.Git).
func (s *Server) AddRepo(r Repo) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	r.ID = len(s.repos) + 1000
	r.nextNum = 1
	r.Statuses = map[string][]Status{}
	r.CheckRuns = map[string][]CheckRun{}
	rr := &r
	k := r.Owner + "/" + r.Name
	s.repos[k] = rr
	s.order = append(s.order, k)
	return rr
}

// Calls returns the calls seen so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls forgets the calls seen.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Writes counts calls that are not GETs (excluding App token creation,
// which changes nothing in a repository).
func (s *Server) Writes() int {
	n := 0
	for _, c := range s.Calls() {
		if c.Method != http.MethodGet && c.Op != "apps/create-installation-access-token" {
			n++
		}
	}
	return n
}

// Before runs f once, after the next call of op is answered and before
// the reply is sent: a test's way to act between the bot's read and its
// next step (a push racing the bot, say).
func (s *Server) Before(op string, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hooks == nil {
		s.hooks = map[string][]func(){}
	}
	s.hooks[op] = append(s.hooks[op], f)
}

// AddFault injects a fault.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Pulls returns copies of owner/name's pull requests.
func (s *Server) Pulls(owner, name string) []Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pull
	for _, p := range s.repos[owner+"/"+name].Pulls {
		c := *p
		c.Labels, c.Comments = slices.Clone(p.Labels), slices.Clone(p.Comments)
		out = append(out, c)
	}
	return out
}

// Issues returns copies of owner/name's issues.
func (s *Server) Issues(owner, name string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, i := range s.repos[owner+"/"+name].Issues {
		out = append(out, *i)
	}
	return out
}

// StatusesOf returns the statuses set on sha.
func (s *Server) StatusesOf(owner, name, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.repos[owner+"/"+name].Statuses[sha])
}

// ClosePull closes a pull request without merging, as a person would.
func (s *Server) ClosePull(owner, name string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.repos[owner+"/"+name].Pulls {
		if p.Number == number {
			p.State, p.Updated = "closed", s.tick()
		}
	}
}

// MergePull merges a pull request as a person would (a squash merge).
func (s *Server) MergePull(owner, name string, number int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	p := rp.pull(number)
	if p == nil {
		return fmt.Errorf("no pull request #%d", number)
	}
	return s.merge(rp, p, "squash", p.Title)
}

// SetStatus sets a commit status on sha, as a CI system would.
func (s *Server) SetStatus(owner, name, sha, context, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	rp.Statuses[sha] = append(rp.Statuses[sha], Status{State: state, Context: context})
}

// SetCheckRun records a check run on sha, as a GitHub App would.
func (s *Server) SetCheckRun(owner, name, sha string, c CheckRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.repos[owner+"/"+name]
	rp.CheckRuns[sha] = append(rp.CheckRuns[sha], c)
}

// Edit changes a repository's settings under the server's lock.
func (s *Server) Edit(owner, name string, f func(*Repo)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.repos[owner+"/"+name])
}

// EditIssueBody changes an issue's body, as a person ticking a checkbox
// would.
func (s *Server) EditIssueBody(owner, name string, number int, edit func(string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.repos[owner+"/"+name].Issues {
		if i.Number == number {
			i.Body, i.Updated = edit(i.Body), s.tick()
		}
	}
}

// EditPullBody changes a pull request's body, as a person would.
func (s *Server) EditPullBody(owner, name string, number int, edit func(string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.repos[owner+"/"+name].pull(number); p != nil {
		p.Body, p.Updated = edit(p.Body), s.tick()
	}
}

// merge merges p into its base on the git server; s.mu is held.
func (s *Server) merge(rp *Repo, p *Pull, method, title string) error {
	sha, err := s.Git.Merge(rp.Owner, rp.Name, p.Head, p.Base, method, title)
	if err != nil {
		return err
	}
	p.State, p.Merged, p.MergeMethod, p.MergeSHA, p.Updated = "closed", true, method, sha, s.tick()
	return nil
}

// checksPass reports the first required check of rp that has not
// passed on sha, or "".
func (rp *Repo) checksPass(sha string) string {
	for _, want := range append(slices.Clone(rp.RequiredChecks), rp.RulesetChecks...) {
		ok := false
		for _, st := range rp.Statuses[sha] {
			if st.Context == want {
				ok = st.State == "success" // the latest wins
			}
		}
		for _, c := range rp.CheckRuns[sha] {
			if c.Name == want {
				ok = c.Status == "completed" && (c.Conclusion == "success" || c.Conclusion == "neutral" || c.Conclusion == "skipped")
			}
		}
		if !ok {
			return want
		}
	}
	return ""
}

// errorf records a spec violation; the test fails at cleanup (and the
// caller sees an error response).
func (s *Server) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

// refPath matches the git reference operations, whose {ref} is a
// slash-separated name.
var refPath = regexp.MustCompile(`^(/repos/[^/]+/[^/]+/git/refs?/)(.+)$`)

// reply is a handler's answer before it is completed against the schema.
type reply struct {
	status int
	body   any
	header http.Header
}

// ServeHTTP validates, dispatches and validates again.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, "/api/v3")
	if !ok {
		s.errorf("%s %s: not under /api/v3 (GitHub Enterprise base URL)", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	// Route against the description's server URL. A git ref parameter
	// holds slashes (heads/modgate/x), which GitHub accepts and the
	// router would split: route it escaped.
	ru := &url.URL{Scheme: "https", Host: "api.github.com", Path: p, RawQuery: r.URL.RawQuery}
	if m := refPath.FindStringSubmatch(p); m != nil {
		ru.RawPath = m[1] + strings.ReplaceAll(m[2], "/", "%2F")
	}
	rr := r.Clone(r.Context())
	rr.URL, rr.Host, rr.RequestURI = ru, "api.github.com", ""
	rr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(rr)
	if err != nil {
		s.errorf("%s %s: no such operation in GitHub's OpenAPI description: %v", r.Method, p, err)
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	op := route.Operation.OperationID
	if ref, ok := params["ref"]; ok {
		if u, err := url.PathUnescape(ref); err == nil {
			params["ref"] = u
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		s.errorf("request %s %s (%s) violates GitHub's OpenAPI description: %v\nbody: %s", r.Method, p, op, err, body)
	}
	rep := s.handle(r, op, params, body)
	if rep.header == nil {
		rep.header = http.Header{}
	}
	s.rateHeaders(rep.header)
	data := s.complete(route, op, rep)
	s.mu.Lock()
	var hook func()
	if hs := s.hooks[op]; len(hs) > 0 {
		hook, s.hooks[op] = hs[0], hs[1:]
	}
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rep.status, Header: rep.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(data)
	// The description documents neither 429 (secondary rate limits) nor,
	// for most operations, 401 (bad credentials), though GitHub sends both.
	if rep.status != http.StatusTooManyRequests && rep.status != http.StatusUnauthorized {
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			s.errorf("response to %s %s (%s, %d) violates GitHub's OpenAPI description: %v", r.Method, p, op, rep.status, err)
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: p, Op: op, Status: rep.status})
	s.mu.Unlock()
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(rep.status)
	w.Write(data)
}

// complete fills the reply body against the operation's response schema.
func (s *Server) complete(route *routers.Route, op string, rep reply) []byte {
	if rep.body == nil {
		return nil
	}
	// Round-trip through JSON so fill sees plain decoded values.
	raw, _ := json.Marshal(rep.body)
	var v any
	json.Unmarshal(raw, &v)
	if resp := route.Operation.Responses.Status(rep.status); resp != nil && resp.Value != nil {
		if mt := resp.Value.Content.Get("application/json"); mt != nil {
			v = fill(mt.Schema, v, 0)
		}
	}
	data, _ := json.Marshal(v)
	rep.header.Set("Content-Type", "application/json; charset=utf-8")
	return data
}

// rateHeaders adds GitHub's primary rate-limit headers, counting the
// request against the limit, unless a fault set its own.
func (s *Server) rateHeaders(h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.Get("X-RateLimit-Remaining") != "" {
		return
	}
	if s.remaining > 1 {
		s.remaining--
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(s.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(rateLimit-s.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errReply(status int, msg string) reply {
	return reply{status: status, body: map[string]any{"message": msg, "documentation_url": "https://docs.github.example.invalid/rest"}}
}

// validationFailed is GitHub's 422: "Validation Failed" with one errors[]
// entry naming the resource, as go-github prints it.
func validationFailed(resource, field, code, msg string) reply {
	e := map[string]any{"resource": resource, "code": code}
	if field != "" {
		e["field"] = field
	}
	if msg != "" {
		e["message"] = msg
	}
	return reply{status: http.StatusUnprocessableEntity, body: map[string]any{
		"message": "Validation Failed", "errors": []any{e},
		"documentation_url": "https://docs.github.example.invalid/rest"}}
}

func (s *Server) authorized(r *http.Request, op string) bool {
	h := r.Header.Get("Authorization")
	if op == "apps/create-installation-access-token" {
		return s.checkJWT(strings.TrimPrefix(h, "Bearer "))
	}
	return h == "Bearer "+s.Token || h == "token "+s.Token ||
		(s.App != nil && (h == "token "+s.App.Token || h == "Bearer "+s.App.Token))
}

func (s *Server) checkJWT(tok string) bool {
	if s.App == nil {
		return false
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodRSA); !ok {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return s.App.Key, nil
	})
	return err == nil && claims.Issuer == strconv.FormatInt(s.App.ID, 10)
}

func (s *Server) handle(r *http.Request, op string, params map[string]string, body []byte) reply {
	if !s.authorized(r, op) {
		return errReply(http.StatusUnauthorized, "Bad credentials")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op == op && f.N > 0 {
			f.N--
			if f.N == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			rep := errReply(f.Status, f.Body)
			rep.header = f.Header.Clone()
			return rep
		}
	}
	if op == "apps/create-installation-access-token" {
		if id, _ := strconv.ParseInt(params["installation_id"], 10, 64); id != s.App.InstallationID {
			return errReply(http.StatusNotFound, "Not Found")
		}
		return reply{status: http.StatusCreated, body: map[string]any{"token": s.App.Token, "expires_at": s.clock.Add(time.Hour).Format(time.RFC3339)}}
	}
	if op == "repos/list-for-org" {
		var list []any
		for _, k := range s.order {
			if rp := s.repos[k]; rp.Owner == params["org"] {
				list = append(list, s.repoJSON(rp, false))
			}
		}
		return paginate(r, list)
	}
	rp := s.repos[params["owner"]+"/"+params["repo"]]
	if rp == nil {
		return errReply(http.StatusNotFound, "Not Found")
	}
	var in map[string]any
	if len(body) > 0 && body[0] == '{' {
		json.Unmarshal(body, &in)
	}
	str := func(k string) string { v, _ := in[k].(string); return v }
	num, _ := strconv.Atoi(firstNonEmpty(params["pull_number"], params["issue_number"]))
	switch op {
	case "repos/get":
		return reply{status: http.StatusOK, body: s.repoJSON(rp, true)}
	case "pulls/list":
		q := r.URL.Query()
		state := q.Get("state")
		if state == "" {
			state = "open"
		}
		ps := slices.Clone(rp.Pulls)
		if q.Get("sort") == "updated" {
			sort.SliceStable(ps, func(i, j int) bool { return ps[i].Updated.After(ps[j].Updated) })
		}
		var list []any
		for _, p := range ps {
			if state == "all" || p.State == state {
				list = append(list, s.pullJSON(rp, p, false))
			}
		}
		return paginate(r, list)
	case "pulls/create":
		head, base := str("head"), str("base")
		sha := s.Git.RefOK(rp.Owner, rp.Name, head)
		switch {
		case sha == "":
			return validationFailed("PullRequest", "head", "invalid", "")
		case s.Git.RefOK(rp.Owner, rp.Name, base) == "":
			return validationFailed("PullRequest", "base", "invalid", "")
		}
		for _, p := range rp.Pulls {
			if p.Head == head && p.State == "open" {
				return validationFailed("PullRequest", "", "custom", "A pull request already exists for "+rp.Owner+":"+head+".")
			}
		}
		now := s.tick()
		p := &Pull{Number: rp.nextNum, State: "open", Title: str("title"), Body: str("body"), Head: head, Base: base, HeadSHA: sha, Created: now, Updated: now}
		rp.nextNum++
		rp.Pulls = append(rp.Pulls, p)
		return reply{status: http.StatusCreated, body: s.pullJSON(rp, p, true)}
	case "pulls/update", "pulls/request-reviewers":
		p := rp.pull(num)
		if p == nil {
			return errReply(http.StatusNotFound, "Not Found")
		}
		if op == "pulls/update" {
			if v, ok := in["title"].(string); ok {
				p.Title = v
			}
			if v, ok := in["body"].(string); ok {
				p.Body = v
			}
			if v, ok := in["state"].(string); ok {
				p.State = v
			}
		} else {
			p.Reviewers = append(p.Reviewers, strs(in["reviewers"])...)
			p.TeamReviewers = append(p.TeamReviewers, strs(in["team_reviewers"])...)
		}
		p.Updated = s.tick()
		status := http.StatusOK
		if op == "pulls/request-reviewers" {
			status = http.StatusCreated
		}
		return reply{status: status, body: s.pullJSON(rp, p, true)}
	case "pulls/get":
		p := rp.pull(num)
		if p == nil {
			return errReply(http.StatusNotFound, "Not Found")
		}
		return reply{status: http.StatusOK, body: s.pullJSON(rp, p, true)}
	case "pulls/merge":
		p := rp.pull(num)
		switch {
		case p == nil:
			return errReply(http.StatusNotFound, "Not Found")
		case p.State != "open":
			return reply{status: http.StatusMethodNotAllowed, body: map[string]any{"message": "Pull Request is not mergeable"}}
		}
		sha := s.Git.RefOK(rp.Owner, rp.Name, p.Head)
		if want := str("sha"); want != "" && want != sha {
			return reply{status: http.StatusConflict, body: map[string]any{"message": "Head branch was modified. Review and try the merge again."}}
		}
		if c := rp.checksPass(sha); c != "" {
			return reply{status: http.StatusMethodNotAllowed, body: map[string]any{"message": fmt.Sprintf("Required status check %q is expected.", c)}}
		}
		method := str("merge_method")
		if method == "" {
			method = "merge"
		}
		title := str("commit_title")
		if title == "" {
			title = fmt.Sprintf("Merge pull request #%d", p.Number)
		}
		if err := s.merge(rp, p, method, title); err != nil {
			return reply{status: http.StatusMethodNotAllowed, body: map[string]any{"message": "Pull Request is not mergeable: " + err.Error()}}
		}
		return reply{status: http.StatusOK, body: map[string]any{"sha": p.MergeSHA, "merged": true, "message": "Pull Request successfully merged"}}
	case "git/get-ref":
		branch, ok := strings.CutPrefix(params["ref"], "heads/")
		sha := ""
		if ok {
			sha = s.Git.RefOK(rp.Owner, rp.Name, branch)
		}
		if sha == "" {
			return errReply(http.StatusNotFound, "Not Found")
		}
		return reply{status: http.StatusOK, body: map[string]any{"ref": "refs/" + params["ref"], "node_id": "REF_" + branch,
			"object": map[string]any{"type": "commit", "sha": sha, "url": "https://github.example.invalid/placeholder"}}}
	case "git/delete-ref":
		ref := params["ref"]
		branch, ok := strings.CutPrefix(ref, "heads/")
		switch {
		case !ok:
			return errReply(http.StatusUnprocessableEntity, "Invalid reference name")
		case branch == rp.DefaultBranch:
			return errReply(http.StatusUnprocessableEntity, "Cannot delete the default branch")
		case s.Git.RefOK(rp.Owner, rp.Name, branch) == "":
			return errReply(http.StatusUnprocessableEntity, "Reference does not exist")
		}
		if err := s.Git.DeleteRef(rp.Owner, rp.Name, branch); err != nil {
			return errReply(http.StatusConflict, err.Error())
		}
		return reply{status: http.StatusNoContent}
	case "repos/get-branch":
		branch := params["branch"]
		sha := s.Git.RefOK(rp.Owner, rp.Name, branch)
		if sha == "" {
			return errReply(http.StatusNotFound, "Branch not found")
		}
		protected := branch == rp.DefaultBranch && len(rp.RequiredChecks) > 0
		var checks []any
		for _, c := range rp.RequiredChecks {
			checks = append(checks, map[string]any{"context": c, "app_id": nil})
		}
		prot := map[string]any{"enabled": protected}
		if protected {
			prot["required_status_checks"] = map[string]any{"enforcement_level": "non_admins",
				"contexts": append([]string{}, rp.RequiredChecks...), "checks": append([]any{}, checks...)}
		}
		return reply{status: http.StatusOK, body: map[string]any{
			"name": branch, "protected": protected, "protection": prot,
			"commit":         map[string]any{"sha": sha},
			"_links":         map[string]any{"html": "https://github.example.invalid/" + rp.Owner + "/" + rp.Name + "/tree/" + branch, "self": "https://github.example.invalid/placeholder"},
			"protection_url": "https://github.example.invalid/placeholder"}}
	case "repos/get-branch-rules":
		var rules []any
		if params["branch"] == rp.DefaultBranch && len(rp.RulesetChecks) > 0 {
			var cs []any
			for _, c := range rp.RulesetChecks {
				cs = append(cs, map[string]any{"context": c})
			}
			rules = append(rules, map[string]any{"type": "required_status_checks",
				"parameters":          map[string]any{"required_status_checks": cs, "strict_required_status_checks_policy": false},
				"ruleset_source_type": "Repository", "ruleset_source": rp.Owner + "/" + rp.Name, "ruleset_id": 1})
		}
		return reply{status: http.StatusOK, body: append([]any{}, rules...)}
	case "repos/get-combined-status-for-ref":
		sha := s.resolve(rp, params["ref"])
		latest := map[string]Status{}
		var order []string
		for _, st := range rp.Statuses[sha] {
			if _, ok := latest[st.Context]; !ok {
				order = append(order, st.Context)
			}
			latest[st.Context] = st
		}
		state := "success"
		var list []any
		for i, c := range order {
			st := latest[c]
			switch {
			case st.State == "failure" || st.State == "error":
				state = "failure"
			case st.State == "pending" && state == "success":
				state = "pending"
			}
			list = append(list, map[string]any{"id": i + 1, "context": c, "state": st.State, "description": st.Description, "target_url": nil})
		}
		if len(order) == 0 {
			state = "pending"
		}
		return reply{status: http.StatusOK, body: map[string]any{"state": state, "sha": sha, "total_count": len(order), "statuses": append([]any{}, list...), "repository": s.repoJSON(rp, false)}}
	case "checks/list-for-ref":
		sha := s.resolve(rp, params["ref"])
		var list []any
		for i, c := range rp.CheckRuns[sha] {
			var conclusion any
			if c.Conclusion != "" {
				conclusion = c.Conclusion
			}
			list = append(list, map[string]any{"id": i + 1, "name": c.Name, "head_sha": sha, "status": c.Status, "conclusion": conclusion,
				"started_at": s.clock.Format(time.RFC3339), "completed_at": nil, "check_suite": nil, "app": nil, "pull_requests": []any{},
				"output": map[string]any{"title": nil, "summary": nil, "text": nil, "annotations_count": 0, "annotations_url": "https://github.example.invalid/placeholder"}})
		}
		return reply{status: http.StatusOK, body: map[string]any{"total_count": len(list), "check_runs": append([]any{}, list...)}}
	case "repos/list-releases":
		var list []any
		for i, rel := range rp.Releases {
			list = append(list, map[string]any{"id": i + 1, "tag_name": rel.Tag, "name": rel.Name, "body": rel.Body, "draft": rel.Draft, "prerelease": rel.Prerelease,
				"html_url":         fmt.Sprintf("https://github.example.invalid/%s/%s/releases/tag/%s", rp.Owner, rp.Name, rel.Tag),
				"target_commitish": rp.DefaultBranch, "author": userJSON(rp.Owner), "assets": []any{}, "published_at": s.clock.Format(time.RFC3339)})
		}
		return paginate(r, list)
	case "issues/add-labels":
		var labels []string
		var arr []string
		if json.Unmarshal(body, &arr) == nil {
			labels = arr
		} else {
			labels = strs(in["labels"])
		}
		target := rp.labelsOf(num)
		if target == nil {
			return errReply(http.StatusNotFound, "Not Found")
		}
		for _, l := range labels {
			if !slices.Contains(*target, l) {
				*target = append(*target, l)
			}
		}
		var out []any
		for _, l := range *target {
			out = append(out, labelJSON(l))
		}
		return reply{status: http.StatusOK, body: out}
	case "issues/create-comment":
		if p := rp.pull(num); p != nil {
			p.Comments = append(p.Comments, str("body"))
			return reply{status: http.StatusCreated, body: map[string]any{"id": len(p.Comments), "body": str("body"), "user": userJSON("modgate-bot")}}
		}
		return errReply(http.StatusNotFound, "Not Found")
	case "repos/create-commit-status":
		sha := params["sha"]
		st := Status{State: str("state"), Context: str("context"), Description: str("description")}
		rp.Statuses[sha] = append(rp.Statuses[sha], st)
		return reply{status: http.StatusCreated, body: map[string]any{"state": st.State, "context": st.Context, "description": st.Description, "creator": userJSON("modgate-bot")}}
	case "issues/list-for-repo":
		q := r.URL.Query()
		state := q.Get("state")
		if state == "" {
			state = "open"
		}
		var want []string
		if l := q.Get("labels"); l != "" {
			want = strings.Split(l, ",")
		}
		var list []any
		for _, i := range rp.Issues {
			if (state == "all" || i.State == state) && hasAll(i.Labels, want) {
				list = append(list, s.issueJSON(rp, i))
			}
		}
		return paginate(r, list)
	case "issues/create":
		now := s.tick()
		i := &Issue{Number: rp.nextNum, State: "open", Title: str("title"), Body: str("body"), Labels: strs(in["labels"]), Created: now, Updated: now}
		rp.nextNum++
		rp.Issues = append(rp.Issues, i)
		return reply{status: http.StatusCreated, body: s.issueJSON(rp, i)}
	case "issues/update":
		for _, i := range rp.Issues {
			if i.Number == num {
				if v, ok := in["title"].(string); ok {
					i.Title = v
				}
				if v, ok := in["body"].(string); ok {
					i.Body = v
				}
				i.Updated = s.tick()
				return reply{status: http.StatusOK, body: s.issueJSON(rp, i)}
			}
		}
		return errReply(http.StatusNotFound, "Not Found")
	}
	s.mu.Unlock()
	s.errorf("operation %s is not implemented by the fake", op)
	s.mu.Lock()
	return errReply(http.StatusNotImplemented, "not implemented by the fake")
}

// resolve turns a ref parameter (a SHA or a branch) into a commit.
func (s *Server) resolve(rp *Repo, ref string) string {
	if sha := s.Git.RefOK(rp.Owner, rp.Name, ref); sha != "" {
		return sha
	}
	return ref
}

func (r *Repo) pull(n int) *Pull {
	for _, p := range r.Pulls {
		if p.Number == n {
			return p
		}
	}
	return nil
}

func (r *Repo) labelsOf(n int) *[]string {
	if p := r.pull(n); p != nil {
		return &p.Labels
	}
	for _, i := range r.Issues {
		if i.Number == n {
			return &i.Labels
		}
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func strs(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// paginate serves list[page] with GitHub's Link header.
func paginate(r *http.Request, list []any) reply {
	q := r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	start := min((page-1)*per, len(list))
	end := min(start+per, len(list))
	rep := reply{status: http.StatusOK, body: append([]any{}, list[start:end]...), header: http.Header{}}
	if end < len(list) {
		q.Set("page", strconv.Itoa(page+1))
		u := *r.URL
		u.RawQuery = q.Encode()
		u.Scheme, u.Host = "http", r.Host
		rep.header.Set("Link", fmt.Sprintf(`<%s>; rel="next"`, u.String()))
	}
	return rep
}

func userJSON(login string) map[string]any {
	return map[string]any{"login": login, "id": 1, "type": "User", "site_admin": false}
}

func labelJSON(name string) map[string]any {
	return map[string]any{"id": 1, "name": name, "color": "ededed", "default": false}
}

func (s *Server) repoJSON(r *Repo, full bool) map[string]any {
	m := map[string]any{
		"id": r.ID, "name": r.Name, "full_name": r.Owner + "/" + r.Name,
		"owner": userJSON(r.Owner), "private": true, "fork": r.Fork, "archived": r.Archived,
		"default_branch": r.DefaultBranch, "clone_url": s.Git.CloneURL(r.Owner, r.Name),
		"html_url": "https://github.example.invalid/" + r.Owner + "/" + r.Name,
		"topics":   append([]string{}, r.Topics...),
	}
	return m
}

func (s *Server) pullJSON(r *Repo, p *Pull, full bool) map[string]any {
	if sha := s.Git.RefOK(r.Owner, r.Name, p.Head); sha != "" {
		p.HeadSHA = sha
	}
	var labels []any
	for _, l := range p.Labels {
		labels = append(labels, labelJSON(l))
	}
	var reviewers []any
	for _, u := range p.Reviewers {
		reviewers = append(reviewers, userJSON(u))
	}
	var teams []any
	for _, tm := range p.TeamReviewers {
		teams = append(teams, map[string]any{"id": 1, "name": tm, "slug": tm})
	}
	repo := s.repoJSON(r, false)
	m := map[string]any{
		"number": p.Number, "state": p.State, "title": p.Title, "body": p.Body, "locked": false,
		"html_url":   fmt.Sprintf("https://github.example.invalid/%s/%s/pull/%d", r.Owner, r.Name, p.Number),
		"head":       map[string]any{"ref": p.Head, "sha": p.HeadSHA, "label": r.Owner + ":" + p.Head, "repo": repo, "user": userJSON(r.Owner)},
		"base":       map[string]any{"ref": p.Base, "sha": s.Git.RefOK(r.Owner, r.Name, p.Base), "label": r.Owner + ":" + p.Base, "repo": repo, "user": userJSON(r.Owner)},
		"user":       userJSON("modgate-bot"),
		"labels":     append([]any{}, labels...),
		"created_at": p.Created.Format(time.RFC3339), "updated_at": p.Updated.Format(time.RFC3339),
		"requested_reviewers": append([]any{}, reviewers...), "requested_teams": append([]any{}, teams...),
		"closed_at": nil, "merged_at": nil,
	}
	if p.State == "closed" {
		m["closed_at"] = p.Updated.Format(time.RFC3339)
		if p.Merged {
			m["merged_at"] = p.Updated.Format(time.RFC3339)
			m["merge_commit_sha"] = p.MergeSHA
		}
	}
	if full {
		m["merged"] = p.Merged
		m["mergeable"] = nil
	}
	return m
}

func (s *Server) issueJSON(r *Repo, i *Issue) map[string]any {
	var labels []any
	for _, l := range i.Labels {
		labels = append(labels, labelJSON(l))
	}
	return map[string]any{
		"number": i.Number, "state": i.State, "title": i.Title, "body": i.Body,
		"labels": append([]any{}, labels...), "user": userJSON("modgate-bot"),
		"html_url":   fmt.Sprintf("https://github.example.invalid/%s/%s/issues/%d", r.Owner, r.Name, i.Number),
		"created_at": i.Created.Format(time.RFC3339), "updated_at": i.Updated.Format(time.RFC3339),
		"closed_at": nil,
	}
}

var _ = openapi3.NewLoader
