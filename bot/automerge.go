package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/modgate/modgate/bot/forge"
)

// mergeCandidate is an unchanged pull request an automerge rule selects.
type mergeCandidate struct {
	pr   forge.PullRequest
	rule int
}

// verifyContext is the commit status the bot sets on its branches.
const verifyContext = "modgate/verify"

// checksReady reports whether a pull request with checks may merge given
// the required check names, and if not, why. Any failing check blocks;
// every required check must have passed. Without required checks, every
// reported check must have passed and there must be one besides the
// bot's own.
func checksReady(required []string, checks []forge.Check) (bool, string) {
	state := map[string]string{}
	for _, c := range checks {
		state[c.Name] = c.State
	}
	for _, c := range checks {
		if c.State == "failure" {
			return false, fmt.Sprintf("check %s failed", code(c.Name))
		}
	}
	var waiting []string
	if len(required) > 0 {
		for _, r := range required {
			if state[r] != "success" {
				waiting = append(waiting, code(r))
			}
		}
	} else {
		others := 0
		for _, c := range checks {
			if c.Name != verifyContext {
				others++
			}
			if c.State != "success" {
				waiting = append(waiting, code(c.Name))
			}
		}
		if others == 0 {
			return false, "no check besides " + code(verifyContext) + " has reported, and the base branch requires none (list the checks to wait for in automerge.required_checks)"
		}
	}
	if len(waiting) > 0 {
		return false, "waiting for " + strings.Join(waiting, ", ")
	}
	return true, ""
}

// automerge merges the unchanged pull requests an automerge rule selects
// whose checks have passed, and deletes their branches. One that is not
// ready (or that GitHub refuses to merge) is listed on the dashboard.
func (b *Bot) automerge(ctx context.Context, st *repoState) error {
	if len(st.merges) == 0 {
		return nil
	}
	required, err := b.Forge.RequiredChecks(ctx, st.repo, st.repo.DefaultBranch)
	if err != nil {
		return err
	}
	required = append(required, st.rc.Automerge.RequiredChecks...)
	slices.Sort(required)
	required = slices.Compact(required)
	for _, mc := range st.merges {
		p := mc.pr
		checks, err := b.Forge.Checks(ctx, st.repo, p.HeadSHA)
		if err != nil {
			return err
		}
		if ok, why := checksReady(required, checks); !ok {
			st.board.Automerge = append(st.board.Automerge, fmt.Sprintf("#%d %s: %s", p.Number, p.Title, why))
			continue
		}
		rule := st.rc.Automerge.Rules[mc.rule].String()
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionMerge, Branch: p.Head, Number: p.Number, Title: p.Title, Reason: "checks passed; automerge rule: " + rule})
		if b.DryRun {
			continue
		}
		if err := b.Forge.MergePull(ctx, st.repo, p.Number, p.HeadSHA, st.rc.mergeMethod(), fmt.Sprintf("%s (#%d)", p.Title, p.Number)); err != nil {
			st.report.Actions = st.report.Actions[:len(st.report.Actions)-1]
			st.board.Automerge = append(st.board.Automerge, fmt.Sprintf("#%d %s: merge failed: %s", p.Number, p.Title, oneLine(err.Error())))
			continue
		}
		st.open = slices.DeleteFunc(st.open, func(o forge.PullRequest) bool { return o.Number == p.Number })
		if _, err := b.Forge.DeleteBranch(ctx, st.repo, p.Head, p.HeadSHA); err != nil {
			return err
		}
	}
	return nil
}
