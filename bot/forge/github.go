package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// AppAuth authenticates as a GitHub App installation.
type AppAuth struct {
	AppID          int64
	InstallationID int64
	// PrivateKey is the App's PEM-encoded RSA private key.
	PrivateKey []byte
}

// Options configures [NewGitHub].
type Options struct {
	// BaseURL is the REST API base URL for GitHub Enterprise Server, e.g.
	// "https://ghe.example.com/api/v3/" ("/api/v3/" is added when
	// missing). Empty means public GitHub.
	BaseURL string
	// Token is a personal access token or similar. Exactly one of Token
	// and App must be set.
	Token string
	App   *AppAuth
	// Transport is the base HTTP transport; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// MaxWait bounds one rate-limit back-off; a limit that resets later
	// fails the call. Zero means 15 minutes.
	MaxWait time.Duration
	// MaxRetries bounds the back-offs of one call. Zero means 3.
	MaxRetries int
	// Now and Sleep are the clock; nil means the real ones.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives back-off notices; nil means slog.Default().
	Logger *slog.Logger
	// ModuleHost is the host of module paths whose repositories this
	// forge serves (see [ReleaseSource]). Empty means "github.com" for
	// public GitHub and the API URL's host for GitHub Enterprise Server.
	ModuleHost string
}

// GitHub is the [Forge] implementation for GitHub and GitHub Enterprise
// Server.
type GitHub struct {
	c    *github.Client
	o    Options
	app  *ghinstallation.Transport // nil with token auth
	tok  string
	base string // API base URL without trailing slash
}

// NewGitHub returns a GitHub client.
func NewGitHub(o Options) (*GitHub, error) {
	if (o.Token == "") == (o.App == nil) {
		return nil, errors.New("github: set exactly one of a token and App authentication")
	}
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	g := &GitHub{o: o, tok: o.Token}
	enterprise := func(c *github.Client) (*github.Client, error) {
		if o.BaseURL == "" {
			return c, nil
		}
		c, err := c.WithEnterpriseURLs(o.BaseURL, o.BaseURL)
		if err != nil {
			return nil, fmt.Errorf("github: base URL %q: %w", o.BaseURL, err)
		}
		return c, nil
	}
	c, err := enterprise(github.NewClient(&http.Client{Transport: tr}))
	if err != nil {
		return nil, err
	}
	g.base = strings.TrimSuffix(c.BaseURL.String(), "/")
	if o.App != nil {
		itr, err := ghinstallation.New(tr, o.App.AppID, o.App.InstallationID, o.App.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("github: app %d installation %d: %w", o.App.AppID, o.App.InstallationID, err)
		}
		// ghinstallation posts to <base>/app/installations/<id>/access_tokens.
		itr.BaseURL = g.base
		// Without options the token request's body is JSON null, which
		// the API description does not allow; ask for the defaults.
		itr.InstallationTokenOptions = &github.InstallationTokenOptions{}
		g.app = itr
		if c, err = enterprise(github.NewClient(&http.Client{Transport: itr})); err != nil {
			return nil, err
		}
	} else {
		c = c.WithAuthToken(o.Token)
	}
	c.UserAgent = "modgate-bot"
	g.c = c
	return g, nil
}

func (g *GitHub) now() time.Time {
	if g.o.Now != nil {
		return g.o.Now()
	}
	return time.Now()
}

func (g *GitHub) logger() *slog.Logger {
	if g.o.Logger != nil {
		return g.o.Logger
	}
	return slog.Default()
}

func (g *GitHub) sleep(ctx context.Context, d time.Duration) error {
	if g.o.Sleep != nil {
		return g.o.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// GitToken returns the token, or a fresh installation token with App
// authentication.
func (g *GitHub) GitToken(ctx context.Context) (string, error) {
	if g.app == nil {
		return g.tok, nil
	}
	t, err := g.app.Token(ctx)
	if err != nil {
		return "", &APIError{Op: "create installation token", Err: err}
	}
	return t, nil
}

// call runs f, backing off on rate limits: a primary limit waits for its
// reset time, a secondary one (or a 429) for Retry-After.
func (g *GitHub) call(ctx context.Context, op, repo string, f func() (*github.Response, error)) error {
	retries := g.o.MaxRetries
	if retries == 0 {
		retries = 3
	}
	maxWait := g.o.MaxWait
	if maxWait == 0 {
		maxWait = 15 * time.Minute
	}
	for attempt := 0; ; attempt++ {
		resp, err := f()
		if err == nil {
			return nil
		}
		wait, limited := g.backoff(err)
		if !limited {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				err = fmt.Errorf("%w: %v", ErrNotFound, err)
			}
			return &APIError{Op: op, Repo: repo, Err: err}
		}
		if attempt >= retries {
			return &APIError{Op: op, Repo: repo, Err: fmt.Errorf("still rate limited after %d retries: %w", retries, err)}
		}
		if wait > maxWait {
			return &APIError{Op: op, Repo: repo, Err: fmt.Errorf("rate limited for %v (more than %v): %w", wait.Round(time.Second), maxWait, err)}
		}
		g.logger().Warn("github rate limit; backing off", "op", op, "repo", repo, "wait", wait)
		if err := g.sleep(ctx, wait); err != nil {
			return &APIError{Op: op, Repo: repo, Err: err}
		}
	}
}

// backoff reports whether err is a rate limit and how long to wait.
func (g *GitHub) backoff(err error) (time.Duration, bool) {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return max(rl.Rate.Reset.Time.Sub(g.now()), time.Second), true
	case errors.As(err, &ab):
		if ab.RetryAfter != nil {
			return max(*ab.RetryAfter, time.Second), true
		}
		return time.Minute, true
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusTooManyRequests:
		h := er.Response.Header
		if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil {
			return max(time.Duration(s)*time.Second, time.Second), true
		}
		if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(s, 0).Sub(g.now()), time.Second), true
		}
		return time.Minute, true
	}
	return 0, false
}

func repoOf(r *github.Repository) Repo {
	return Repo{
		Owner:         r.GetOwner().GetLogin(),
		Name:          r.GetName(),
		DefaultBranch: r.GetDefaultBranch(),
		CloneURL:      r.GetCloneURL(),
		HTMLURL:       r.GetHTMLURL(),
		Archived:      r.GetArchived(),
		Fork:          r.GetFork(),
		Topics:        r.Topics,
	}
}

func pullOf(p *github.PullRequest) PullRequest {
	pr := PullRequest{
		Number:    p.GetNumber(),
		State:     p.GetState(),
		Merged:    p.GetMerged() || p.MergedAt != nil,
		Title:     p.GetTitle(),
		Body:      p.GetBody(),
		Head:      p.GetHead().GetRef(),
		HeadSHA:   p.GetHead().GetSHA(),
		Base:      p.GetBase().GetRef(),
		UpdatedAt: p.GetUpdatedAt().Time,
		URL:       p.GetHTMLURL(),
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	return pr
}

// Repo implements [Forge].
func (g *GitHub) Repo(ctx context.Context, owner, name string) (Repo, error) {
	var r *github.Repository
	err := g.call(ctx, "get repository", owner+"/"+name, func() (resp *github.Response, err error) {
		r, resp, err = g.c.Repositories.Get(ctx, owner, name)
		return resp, err
	})
	if err != nil {
		return Repo{}, err
	}
	return repoOf(r), nil
}

// OrgRepos implements [Forge].
func (g *GitHub) OrgRepos(ctx context.Context, org string) ([]Repo, error) {
	var out []Repo
	opts := &github.RepositoryListByOrgOptions{Sort: "full_name", ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var rs []*github.Repository
		var next int
		err := g.call(ctx, "list organisation repositories", org, func() (*github.Response, error) {
			var resp *github.Response
			var err error
			rs, resp, err = g.c.Repositories.ListByOrg(ctx, org, opts)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, repoOf(r))
		}
		if next == 0 {
			return out, nil
		}
		opts.Page = next
	}
}

// OpenPulls implements [Forge].
func (g *GitHub) OpenPulls(ctx context.Context, r Repo, headPrefix string) ([]PullRequest, error) {
	return g.pulls(ctx, r, "open", headPrefix, time.Time{})
}

// ClosedPulls implements [Forge].
func (g *GitHub) ClosedPulls(ctx context.Context, r Repo, headPrefix string, since time.Time) ([]PullRequest, error) {
	return g.pulls(ctx, r, "closed", headPrefix, since)
}

func (g *GitHub) pulls(ctx context.Context, r Repo, state, headPrefix string, since time.Time) ([]PullRequest, error) {
	var out []PullRequest
	opts := &github.PullRequestListOptions{State: state, Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var ps []*github.PullRequest
		var next int
		err := g.call(ctx, "list "+state+" pull requests", r.FullName(), func() (*github.Response, error) {
			var resp *github.Response
			var err error
			ps, resp, err = g.c.PullRequests.List(ctx, r.Owner, r.Name, opts)
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			pr := pullOf(p)
			if !since.IsZero() && !pr.UpdatedAt.After(since) {
				return out, nil
			}
			if strings.HasPrefix(pr.Head, headPrefix) {
				out = append(out, pr)
			}
		}
		if next == 0 {
			return out, nil
		}
		opts.Page = next
	}
}

// CreatePull implements [Forge].
func (g *GitHub) CreatePull(ctx context.Context, r Repo, p NewPull) (PullRequest, error) {
	var pr *github.PullRequest
	err := g.call(ctx, "create pull request "+p.Head, r.FullName(), func() (resp *github.Response, err error) {
		pr, resp, err = g.c.PullRequests.Create(ctx, r.Owner, r.Name, &github.NewPullRequest{
			Title: &p.Title, Body: &p.Body, Head: &p.Head, Base: &p.Base, MaintainerCanModify: github.Bool(true),
		})
		return resp, err
	})
	if err != nil {
		return PullRequest{}, err
	}
	return pullOf(pr), nil
}

// EditPull implements [Forge].
func (g *GitHub) EditPull(ctx context.Context, r Repo, number int, title, body string) error {
	return g.call(ctx, fmt.Sprintf("edit pull request #%d", number), r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.PullRequests.Edit(ctx, r.Owner, r.Name, number, &github.PullRequest{Title: &title, Body: &body})
		return resp, err
	})
}

// AddLabels implements [Forge].
func (g *GitHub) AddLabels(ctx context.Context, r Repo, number int, labels []string) error {
	// go-github sends a bare array, which GitHub accepts but its OpenAPI
	// description does not document; send the documented object form.
	u := fmt.Sprintf("repos/%s/%s/issues/%d/labels", r.Owner, r.Name, number)
	return g.call(ctx, fmt.Sprintf("label #%d", number), r.FullName(), func() (*github.Response, error) {
		req, err := g.c.NewRequest(http.MethodPost, u, map[string][]string{"labels": labels})
		if err != nil {
			return nil, err
		}
		return g.c.Do(ctx, req, nil)
	})
}

// RequestReviewers implements [Forge].
func (g *GitHub) RequestReviewers(ctx context.Context, r Repo, number int, users, teams []string) error {
	return g.call(ctx, fmt.Sprintf("request reviewers on #%d", number), r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.PullRequests.RequestReviewers(ctx, r.Owner, r.Name, number, github.ReviewersRequest{Reviewers: users, TeamReviewers: teams})
		return resp, err
	})
}

// Comment implements [Forge].
func (g *GitHub) Comment(ctx context.Context, r Repo, number int, body string) error {
	return g.call(ctx, fmt.Sprintf("comment on #%d", number), r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.Issues.CreateComment(ctx, r.Owner, r.Name, number, &github.IssueComment{Body: &body})
		return resp, err
	})
}

// SetStatus implements [Forge].
func (g *GitHub) SetStatus(ctx context.Context, r Repo, sha string, s Status) error {
	st := &github.RepoStatus{State: &s.State, Context: &s.Context, Description: &s.Description}
	if s.TargetURL != "" {
		st.TargetURL = &s.TargetURL
	}
	return g.call(ctx, "set status on "+sha, r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.Repositories.CreateStatus(ctx, r.Owner, r.Name, sha, st)
		return resp, err
	})
}

// FindIssue implements [Forge].
func (g *GitHub) FindIssue(ctx context.Context, r Repo, label string) (*Issue, error) {
	opts := &github.IssueListByRepoOptions{State: "open", Labels: []string{label}, Sort: "created", Direction: "asc", ListOptions: github.ListOptions{PerPage: 20}}
	var is []*github.Issue
	err := g.call(ctx, "find issue labelled "+label, r.FullName(), func() (resp *github.Response, err error) {
		is, resp, err = g.c.Issues.ListByRepo(ctx, r.Owner, r.Name, opts)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	for _, i := range is {
		if i.IsPullRequest() {
			continue
		}
		return &Issue{Number: i.GetNumber(), Title: i.GetTitle(), Body: i.GetBody(), URL: i.GetHTMLURL()}, nil
	}
	return nil, nil
}

// CreateIssue implements [Forge].
func (g *GitHub) CreateIssue(ctx context.Context, r Repo, title, body string, labels []string) (Issue, error) {
	var i *github.Issue
	err := g.call(ctx, "create issue", r.FullName(), func() (resp *github.Response, err error) {
		i, resp, err = g.c.Issues.Create(ctx, r.Owner, r.Name, &github.IssueRequest{Title: &title, Body: &body, Labels: &labels})
		return resp, err
	})
	if err != nil {
		return Issue{}, err
	}
	return Issue{Number: i.GetNumber(), Title: i.GetTitle(), Body: i.GetBody(), URL: i.GetHTMLURL()}, nil
}

// EditIssue implements [Forge].
func (g *GitHub) EditIssue(ctx context.Context, r Repo, number int, title, body string) error {
	return g.call(ctx, fmt.Sprintf("edit issue #%d", number), r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.Issues.Edit(ctx, r.Owner, r.Name, number, &github.IssueRequest{Title: &title, Body: &body})
		return resp, err
	})
}

// ClosePull implements [Forge].
func (g *GitHub) ClosePull(ctx context.Context, r Repo, number int, body string) error {
	return g.call(ctx, fmt.Sprintf("close pull request #%d", number), r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.PullRequests.Edit(ctx, r.Owner, r.Name, number, &github.PullRequest{Body: &body, State: github.String("closed")})
		return resp, err
	})
}

// MergePull implements [Forge].
func (g *GitHub) MergePull(ctx context.Context, r Repo, number int, sha, method, title string) error {
	return g.call(ctx, fmt.Sprintf("merge pull request #%d", number), r.FullName(), func() (*github.Response, error) {
		_, resp, err := g.c.PullRequests.Merge(ctx, r.Owner, r.Name, number, "", &github.PullRequestOptions{CommitTitle: title, SHA: sha, MergeMethod: method})
		return resp, err
	})
}

// DeleteBranch implements [Forge]. The head is read first: the API has
// no conditional delete, so a push in between the two calls is lost
// with the branch (the pull request keeps its commits).
func (g *GitHub) DeleteBranch(ctx context.Context, r Repo, branch, sha string) (bool, error) {
	if sha != "" {
		var ref *github.Reference
		err := g.call(ctx, "get branch "+branch, r.FullName(), func() (resp *github.Response, err error) {
			ref, resp, err = g.c.Git.GetRef(ctx, r.Owner, r.Name, "heads/"+branch)
			return resp, err
		})
		switch {
		case errors.Is(err, ErrNotFound):
			return false, nil
		case err != nil:
			return false, err
		case ref.GetObject().GetSHA() != sha:
			return false, nil
		}
	}
	err := g.call(ctx, "delete branch "+branch, r.FullName(), func() (*github.Response, error) {
		return g.c.Git.DeleteRef(ctx, r.Owner, r.Name, "heads/"+branch)
	})
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity && strings.Contains(er.Message, "does not exist") {
		return false, nil // already deleted (by GitHub after a merge, or by a person)
	}
	return err == nil, err
}

// branchProtection is the part of GET /repos/{o}/{r}/branches/{b} that
// go-github's Branch lacks.
type branchProtection struct {
	Protection struct {
		RequiredStatusChecks *struct {
			Contexts []string `json:"contexts"`
			Checks   []struct {
				Context string `json:"context"`
			} `json:"checks"`
		} `json:"required_status_checks"`
	} `json:"protection"`
}

// RequiredChecks implements [Forge]. Rulesets are read from the rules
// endpoint, which GitHub Enterprise Server before 3.9 lacks: a 404 there
// means no rulesets.
func (g *GitHub) RequiredChecks(ctx context.Context, r Repo, branch string) ([]string, error) {
	var out []string
	var bp branchProtection
	err := g.call(ctx, "get branch "+branch, r.FullName(), func() (*github.Response, error) {
		req, err := g.c.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/branches/%s", r.Owner, r.Name, url.PathEscape(branch)), nil)
		if err != nil {
			return nil, err
		}
		return g.c.Do(ctx, req, &bp)
	})
	if err != nil {
		return nil, err
	}
	if rs := bp.Protection.RequiredStatusChecks; rs != nil {
		out = append(out, rs.Contexts...)
		for _, c := range rs.Checks {
			out = append(out, c.Context)
		}
	}
	var rules []*github.RepositoryRule
	err = g.call(ctx, "get rules of branch "+branch, r.FullName(), func() (resp *github.Response, err error) {
		rules, resp, err = g.c.Repositories.GetRulesForBranch(ctx, r.Owner, r.Name, branch)
		return resp, err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	for _, rule := range rules {
		if rule.Type != "required_status_checks" || rule.Parameters == nil {
			continue
		}
		var p github.RequiredStatusChecksRuleParameters
		if json.Unmarshal(*rule.Parameters, &p) == nil {
			for _, c := range p.RequiredStatusChecks {
				out = append(out, c.Context)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Checks implements [Forge].
func (g *GitHub) Checks(ctx context.Context, r Repo, sha string) ([]Check, error) {
	byName := map[string]string{}
	var order []string
	set := func(name, state string) {
		if _, ok := byName[name]; !ok {
			order = append(order, name)
		}
		byName[name] = state
	}
	var cs *github.CombinedStatus
	err := g.call(ctx, "get commit statuses of "+sha, r.FullName(), func() (resp *github.Response, err error) {
		cs, resp, err = g.c.Repositories.GetCombinedStatus(ctx, r.Owner, r.Name, sha, &github.ListOptions{PerPage: 100})
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	for _, st := range cs.Statuses { // the latest status of each context
		switch st.GetState() {
		case "success":
			set(st.GetContext(), "success")
		case "pending":
			set(st.GetContext(), "pending")
		default:
			set(st.GetContext(), "failure")
		}
	}
	var runs *github.ListCheckRunsResults
	err = g.call(ctx, "list check runs of "+sha, r.FullName(), func() (resp *github.Response, err error) {
		runs, resp, err = g.c.Checks.ListCheckRunsForRef(ctx, r.Owner, r.Name, sha, &github.ListCheckRunsOptions{Filter: github.String("latest"), ListOptions: github.ListOptions{PerPage: 100}})
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	for _, run := range runs.CheckRuns {
		state := "pending"
		if run.GetStatus() == "completed" {
			switch run.GetConclusion() {
			case "success", "neutral", "skipped":
				state = "success"
			default:
				state = "failure"
			}
		}
		set(run.GetName(), state)
	}
	out := make([]Check, 0, len(order))
	for _, n := range order {
		out = append(out, Check{Name: n, State: byName[n]})
	}
	return out, nil
}

// ModuleHost implements [ReleaseSource].
func (g *GitHub) ModuleHost() string {
	switch {
	case g.o.ModuleHost != "":
		return g.o.ModuleHost
	case g.o.BaseURL == "":
		return "github.com"
	}
	if u, err := url.Parse(g.o.BaseURL); err == nil {
		return u.Hostname()
	}
	return ""
}

// Releases implements [ReleaseSource].
func (g *GitHub) Releases(ctx context.Context, r Repo) ([]Release, error) {
	var rs []*github.RepositoryRelease
	err := g.call(ctx, "list releases", r.FullName(), func() (resp *github.Response, err error) {
		rs, resp, err = g.c.Repositories.ListReleases(ctx, r.Owner, r.Name, &github.ListOptions{PerPage: 100})
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	var out []Release
	for _, rel := range rs {
		if rel.GetDraft() {
			continue
		}
		out = append(out, Release{Tag: rel.GetTagName(), Name: rel.GetName(), Body: rel.GetBody(), URL: rel.GetHTMLURL(), Prerelease: rel.GetPrerelease()})
	}
	return out, nil
}
