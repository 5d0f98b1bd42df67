package forge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/internal/fakegithub"
	"github.com/modgate/modgate/bot/internal/gitserver"
)

func TestGitHubAgainstFake(t *testing.T) {
	const token = "tok"
	gs := gitserver.Start(t, token)
	gh := fakegithub.Start(t, token, gs)
	for i := range 150 {
		gh.AddRepo(fakegithub.Repo{Owner: "big", Name: fmt.Sprintf("r%03d", i), Topics: []string{"go"}})
	}
	gs.CreateRepo(t, "acme", "svc", map[string]string{"README": "x\n"})
	gs.Commit(t, "acme", "svc", "modgate/a", "a", map[string]string{"a": "1\n"})
	gs.Commit(t, "acme", "svc", "modgate/b", "b", map[string]string{"b": "1\n"})
	gs.Commit(t, "acme", "svc", "feature", "f", map[string]string{"f": "1\n"})
	svc := gh.AddRepo(fakegithub.Repo{Owner: "acme", Name: "svc"})
	_ = svc

	c, err := forge.NewGitHub(forge.Options{BaseURL: gh.URL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rs, err := c.OrgRepos(ctx, "big")
	if err != nil || len(rs) != 150 || rs[149].Name != "r149" || rs[0].Topics[0] != "go" {
		t.Fatalf("OrgRepos = %d repos, %v", len(rs), err)
	}
	r, err := c.Repo(ctx, "acme", "svc")
	if err != nil || r.DefaultBranch != "main" || r.CloneURL != gs.CloneURL("acme", "svc") {
		t.Fatalf("Repo = %+v, %v", r, err)
	}
	if _, err := c.Repo(ctx, "acme", "nope"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Repo(missing) = %v, want ErrNotFound", err)
	}
	var nums []int
	for _, head := range []string{"modgate/a", "modgate/b", "feature"} {
		pr, err := c.CreatePull(ctx, r, forge.NewPull{Title: head, Body: "body", Head: head, Base: "main"})
		if err != nil {
			t.Fatalf("CreatePull(%s): %v", head, err)
		}
		nums = append(nums, pr.Number)
	}
	if _, err := c.CreatePull(ctx, r, forge.NewPull{Title: "x", Head: "modgate/a", Base: "main"}); err == nil {
		t.Error("a duplicate pull request was created")
	}
	gh.ClosePull("acme", "svc", nums[0])
	open, err := c.OpenPulls(ctx, r, "modgate/")
	if err != nil || len(open) != 1 || open[0].Head != "modgate/b" || open[0].HeadSHA != gs.Ref(t, "acme", "svc", "modgate/b") {
		t.Errorf("OpenPulls = %+v, %v", open, err)
	}
	closed, err := c.ClosedPulls(ctx, r, "modgate/", time.Time{})
	if err != nil || len(closed) != 1 || closed[0].Number != nums[0] || closed[0].Merged {
		t.Fatalf("ClosedPulls = %+v, %v", closed, err)
	}
	if again, err := c.ClosedPulls(ctx, r, "modgate/", closed[0].UpdatedAt); err != nil || len(again) != 0 {
		t.Errorf("ClosedPulls(since the last one) = %+v, %v", again, err)
	}
	if err := c.EditPull(ctx, r, nums[1], "new title", "new body"); err != nil {
		t.Error(err)
	}
	if err := c.AddLabels(ctx, r, nums[1], []string{"deps", "security"}); err != nil {
		t.Error(err)
	}
	if err := c.RequestReviewers(ctx, r, nums[1], []string{"alice"}, []string{"platform"}); err != nil {
		t.Error(err)
	}
	if err := c.Comment(ctx, r, nums[1], "hi"); err != nil {
		t.Error(err)
	}
	if err := c.SetStatus(ctx, r, open[0].HeadSHA, forge.Status{State: "success", Context: "modgate/verify", Description: "ok"}); err != nil {
		t.Error(err)
	}
	p := gh.Pulls("acme", "svc")[1]
	if p.Title != "new title" || len(p.Labels) != 2 || p.Reviewers[0] != "alice" || p.TeamReviewers[0] != "platform" || p.Comments[0] != "hi" {
		t.Errorf("pull after edits = %+v", p)
	}
	if got, err := c.FindIssue(ctx, r, "dash"); err != nil || got != nil {
		t.Errorf("FindIssue before creation = %v, %v", got, err)
	}
	is, err := c.CreateIssue(ctx, r, "Dashboard", "b1", []string{"dash"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EditIssue(ctx, r, is.Number, "Dashboard", "b2"); err != nil {
		t.Error(err)
	}
	if got, err := c.FindIssue(ctx, r, "dash"); err != nil || got == nil || got.Body != "b2" {
		t.Errorf("FindIssue = %+v, %v", got, err)
	}
	if tok, err := c.GitToken(ctx); err != nil || tok != token {
		t.Errorf("GitToken = %q, %v", tok, err)
	}
}

// TestGitHubLifecycleOperations covers the operations of a pull
// request's end: required checks (branch protection and rulesets),
// statuses and check runs, merging (refused until the required checks
// pass), closing, branch deletion guarded by the expected head, and
// releases, against the fake validated by GitHub's OpenAPI description.
func TestGitHubLifecycleOperations(t *testing.T) {
	const token = "tok"
	gs := gitserver.Start(t, token)
	gh := fakegithub.Start(t, token, gs)
	gs.CreateRepo(t, "acme", "svc", map[string]string{"README": "x\n"})
	head := gs.Commit(t, "acme", "svc", "modgate/a", "a", map[string]string{"a": "1\n"})
	gs.Commit(t, "acme", "svc", "modgate/b", "b", map[string]string{"b": "1\n"})
	gh.AddRepo(fakegithub.Repo{Owner: "acme", Name: "svc", RequiredChecks: []string{"ci"}, RulesetChecks: []string{"lint"},
		Releases: []fakegithub.Release{{Tag: "v1.1.0", Body: "notes"}, {Tag: "v1.0.1", Draft: true}, {Tag: "v1.0.0"}}})
	c, err := forge.NewGitHub(forge.Options{BaseURL: gh.URL, Token: token, ModuleHost: "github.com"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := c.Repo(ctx, "acme", "svc")
	if err != nil {
		t.Fatal(err)
	}
	if r.HTMLURL == "" {
		t.Errorf("Repo().HTMLURL is empty")
	}
	pr, err := c.CreatePull(ctx, r, forge.NewPull{Title: "a", Body: "body", Head: "modgate/a", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePull(ctx, r, forge.NewPull{Title: "a", Head: "modgate/a", Base: "main"}); err == nil || !strings.Contains(err.Error(), "A pull request already exists for acme:modgate/a.") {
		t.Errorf("duplicate CreatePull = %v, want GitHub's errors[] message", err)
	}
	req, err := c.RequiredChecks(ctx, r, "main")
	if err != nil || strings.Join(req, ",") != "ci,lint" {
		t.Errorf("RequiredChecks = %v, %v, want [ci lint]", req, err)
	}
	gh.SetStatus("acme", "svc", head, "ci", "pending")
	gh.SetCheckRun("acme", "svc", head, fakegithub.CheckRun{Name: "lint", Status: "completed", Conclusion: "success"})
	gh.SetCheckRun("acme", "svc", head, fakegithub.CheckRun{Name: "e2e", Status: "in_progress"})
	checks, err := c.Checks(ctx, r, head)
	if err != nil || fmt.Sprint(checks) != "[{ci pending} {lint success} {e2e pending}]" {
		t.Errorf("Checks = %v, %v", checks, err)
	}
	if err := c.MergePull(ctx, r, pr.Number, head, forge.MergeSquash, "a (#1)"); err == nil || !strings.Contains(err.Error(), `Required status check \"ci\" is expected`) && !strings.Contains(err.Error(), `Required status check "ci" is expected`) {
		t.Errorf("MergePull before ci passed = %v, want refused", err)
	}
	if err := c.MergePull(ctx, r, pr.Number, "0123456789012345678901234567890123456789", forge.MergeSquash, "a (#1)"); err == nil {
		t.Error("MergePull with a stale head merged")
	}
	gh.SetStatus("acme", "svc", head, "ci", "success")
	if err := c.MergePull(ctx, r, pr.Number, head, forge.MergeSquash, "a (#1)"); err != nil {
		t.Fatalf("MergePull: %v", err)
	}
	if p := gh.Pulls("acme", "svc")[0]; !p.Merged || p.MergeMethod != "squash" || gs.Show(t, "acme", "svc", "main", "a") != "1" {
		t.Errorf("after merge: %+v", p)
	}
	for _, tt := range []struct {
		branch, sha string
		want        bool
	}{
		{"modgate/b", head, false}, // elsewhere: kept
		{"modgate/a", head, true},
		{"modgate/a", head, false}, // gone
		{"modgate/b", "", true},
	} {
		if got, err := c.DeleteBranch(ctx, r, tt.branch, tt.sha); err != nil || got != tt.want {
			t.Errorf("DeleteBranch(%s, %.7s) = %v, %v, want %v", tt.branch, tt.sha, got, err, tt.want)
		}
	}
	if gs.Ref(t, "acme", "svc", "modgate/a") != "" || gs.Ref(t, "acme", "svc", "modgate/b") != "" {
		t.Error("branches not deleted")
	}
	gs.Commit(t, "acme", "svc", "modgate/c", "c", map[string]string{"c": "1\n"})
	pc, err := c.CreatePull(ctx, r, forge.NewPull{Title: "c", Body: "old", Head: "modgate/c", Base: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ClosePull(ctx, r, pc.Number, "new"); err != nil {
		t.Fatal(err)
	}
	if p := gh.Pulls("acme", "svc")[1]; p.State != "closed" || p.Merged || p.Body != "new" {
		t.Errorf("after ClosePull: %+v", p)
	}
	rels, err := c.Releases(ctx, r)
	if err != nil || len(rels) != 2 || rels[0].Tag != "v1.1.0" || rels[0].Body != "notes" || rels[0].URL == "" {
		t.Errorf("Releases = %+v, %v (drafts excluded)", rels, err)
	}
	if h := c.ModuleHost(); h != "github.com" {
		t.Errorf("ModuleHost = %q", h)
	}
	if c2, _ := forge.NewGitHub(forge.Options{BaseURL: "https://ghe.example.com/api/v3/", Token: token}); c2.ModuleHost() != "ghe.example.com" {
		t.Errorf("GHE ModuleHost = %q", c2.ModuleHost())
	}
	if c3, _ := forge.NewGitHub(forge.Options{Token: token}); c3.ModuleHost() != "github.com" {
		t.Errorf("public ModuleHost = %q", c3.ModuleHost())
	}
}

// TestFakeRateLimitHeaders: like GitHub, the fake reports the primary
// rate limit on every reply, counting down.
func TestFakeRateLimitHeaders(t *testing.T) {
	gs := gitserver.Start(t, "tok")
	gh := fakegithub.Start(t, "tok", gs)
	gs.CreateRepo(t, "acme", "svc", map[string]string{"README": "x\n"})
	gh.AddRepo(fakegithub.Repo{Owner: "acme", Name: "svc"})
	var remaining []string
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, gh.URL+"repos/acme/svc", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, h := range []string{"X-Ratelimit-Limit", "X-Ratelimit-Reset", "X-Ratelimit-Used", "X-Ratelimit-Resource"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("reply lacks %s", h)
			}
		}
		remaining = append(remaining, resp.Header.Get("X-Ratelimit-Remaining"))
	}
	if remaining[0] != "4999" || remaining[1] != "4998" {
		t.Errorf("X-RateLimit-Remaining = %v, want 4999 then 4998", remaining)
	}
}
