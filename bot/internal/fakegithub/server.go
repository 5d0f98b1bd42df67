// Package fakegithub is an in-memory GitHub REST API for the bot's tests.
// It implements the endpoints the bot calls (repositories, pull requests,
// issues, labels, comments, commit statuses, App installation tokens) at
// the GitHub Enterprise path /api/v3/, and validates every request it
// receives and every response it sends against GitHub's published
// OpenAPI description (@octokit/openapi's api.github.com.json) with
// kin-openapi. Anything off-spec fails the test.
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

	nextNum  int
	Pulls    []*Pull
	Issues   []*Issue
	Statuses map[string][]Status // sha -> statuses
}

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
	Created       time.Time
	Updated       time.Time
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

	mu     sync.Mutex // protects the fields below
	repos  map[string]*Repo
	order  []string
	clock  time.Time
	calls  []Call
	faults []*Fault
	errs   []string
}

// Start starts a fake with token auth, backed by git for branch heads.
// It fails the test if the OpenAPI description cannot be loaded.
func Start(t testing.TB, token string, git *gitserver.Server) *Server {
	t.Helper()
	_, router, err := loadSpec()
	if err != nil {
		t.Fatalf("fakegithub: %v", err)
	}
	s := &Server{Token: token, Git: git, t: t, router: router, repos: map[string]*Repo{},
		clock: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
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

// errorf records a spec violation; the test fails at cleanup (and the
// caller sees an error response).
func (s *Server) errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

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
	// Route against the description's server URL.
	ru := &url.URL{Scheme: "https", Host: "api.github.com", Path: p, RawQuery: r.URL.RawQuery}
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
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		s.errorf("request %s %s (%s) violates GitHub's OpenAPI description: %v\nbody: %s", r.Method, p, op, err, body)
	}
	rep := s.handle(r, op, params, body)
	if rep.header == nil {
		rep.header = http.Header{}
	}
	data := s.complete(route, op, rep)
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func errReply(status int, msg string) reply {
	return reply{status: status, body: map[string]any{"message": msg, "documentation_url": "https://docs.github.example.invalid/rest"}}
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
		if sha == "" || s.Git.RefOK(rp.Owner, rp.Name, base) == "" {
			return errReply(http.StatusUnprocessableEntity, "Validation Failed")
		}
		for _, p := range rp.Pulls {
			if p.Head == head && p.State == "open" {
				return errReply(http.StatusUnprocessableEntity, "A pull request already exists for "+head)
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
