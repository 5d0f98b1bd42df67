package forge_test

import (
	"context"
	"errors"
	"fmt"
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
