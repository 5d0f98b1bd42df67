package bot

import (
	"context"
	"fmt"
	"go/version"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/gitcmd"
	"github.com/modgate/modgate/bot/gomod"
)

// foreignCommits returns the commits not authored and committed by the
// bot's identity.
func foreignCommits(g *gitcmd.Git, cs []gitcmd.Commit) []gitcmd.Commit {
	_, email := g.Identity()
	var out []gitcmd.Commit
	for _, c := range cs {
		if !strings.EqualFold(c.AuthorEmail, email) || !strings.EqualFold(c.CommitterEmail, email) {
			out = append(out, c)
		}
	}
	return out
}

// describeCommits lists commits for a comment or the dashboard.
func describeCommits(cs []gitcmd.Commit) string {
	if len(cs) == 0 {
		return "commits modgate did not push"
	}
	var parts []string
	for i, c := range cs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %q by %s", shortSHA(c.SHA), c.Subject, c.Author))
	}
	noun := "commit"
	if len(cs) > 1 {
		noun = "commits"
	}
	return fmt.Sprintf("%d %s modgate did not push (%s)", len(cs), noun, strings.Join(parts, "; "))
}

// handsOff reports whether the branch of p has commits the bot did not
// push, so the bot must leave it alone: its head is not the commit the
// bot recorded pushing. (A record from before heads were recorded is
// trusted when the head's commits are all the bot's.) The first time, it
// says so in a comment.
func (b *Bot) handsOff(ctx context.Context, st *repoState, p forge.PullRequest, em prMeta, hasMeta bool) (bool, error) {
	if !hasMeta {
		return false, nil // no record: not a pull request the bot can judge
	}
	if em.Head != "" && p.HeadSHA == em.Head {
		return false, nil
	}
	if em.Edited != "" {
		// Noticed and commented before; nothing more to say.
		st.board.Edited = append(st.board.Edited, edited{Number: p.Number, Branch: p.Head, Commits: "commits modgate did not push"})
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionSkipped, Branch: p.Head, Number: p.Number, Reason: "the branch has commits modgate did not push"})
		return true, nil
	}
	_, cs, err := st.git.BranchCommits(ctx, st.clone, p.Head, []string{em.Head, em.Base}, 20)
	if err != nil {
		return false, fmt.Errorf("inspect branch: %w", err)
	}
	foreign := foreignCommits(st.git, cs)
	if em.Head == "" && len(foreign) == 0 {
		return false, nil // the bot's own commit, pushed before heads were recorded
	}
	b.noteEdited(ctx, st, p, em, describeCommits(foreign))
	return true, nil
}

// noteEdited records that p's branch is someone else's now: a comment on
// the pull request and its record (so the comment is made once), and an
// entry on the dashboard.
func (b *Bot) noteEdited(ctx context.Context, st *repoState, p forge.PullRequest, em prMeta, what string) {
	// The dashboard says the same on every run (the comment has the
	// details), so a branch left alone costs no write.
	st.board.Edited = append(st.board.Edited, edited{Number: p.Number, Branch: p.Head, Commits: "commits modgate did not push"})
	st.report.Actions = append(st.report.Actions, Action{Kind: ActionHandsOff, Branch: p.Head, Number: p.Number, Reason: what})
	if b.DryRun {
		return
	}
	msg := fmt.Sprintf("modgate found %s on `%s`, so it will not update this branch any more: newer versions and base branch changes are left to you.\n\nTo let modgate rebuild the branch from the base branch, discarding those commits, tick the rebase box in this pull request's description or on the dependency dashboard.\n", what, p.Head)
	if err := b.Forge.Comment(ctx, st.repo, p.Number, msg); err != nil {
		st.board.Errors = append(st.board.Errors, err.Error())
		return
	}
	em.Edited = p.HeadSHA
	if err := b.Forge.EditPull(ctx, st.repo, p.Number, p.Title, replaceMeta(p.Body, prMetaTag, em)); err != nil {
		st.board.Errors = append(st.board.Errors, err.Error())
	}
}

// closeObsolete closes the bot's open pull requests the plan no longer
// wants: their updates were applied on the base branch, another pull
// request proposes their modules now, or they are not proposed at all
// any more (a newly denied version, a module no longer required, an
// ignore rule). Each gets a comment; its branch is deleted unless it has
// commits the bot did not push.
func (b *Bot) closeObsolete(ctx context.Context, st *repoState, open []forge.PullRequest, bls map[string]gomod.BuildList, f *findings) error {
	for _, p := range open {
		var m prMeta
		if st.keep[p.Head] || !readMeta(p.Body, prMetaTag, &m) {
			continue
		}
		kind, why := st.obsolete(p, m, bls, f)
		ours := m.Head == "" || p.HeadSHA == m.Head
		msg := "modgate closed this pull request: " + why + "."
		if ours {
			msg += " Its branch is deleted."
		} else {
			msg += " Its branch is kept: it has commits modgate did not push."
		}
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionClose, Branch: p.Head, Number: p.Number, Title: p.Title, Reason: why, Updates: m.Updates})
		st.open = slices.DeleteFunc(st.open, func(o forge.PullRequest) bool { return o.Number == p.Number })
		if b.DryRun {
			continue
		}
		if err := b.Forge.Comment(ctx, st.repo, p.Number, msg+"\n"); err != nil {
			return err
		}
		m.Closed = kind
		if err := b.Forge.ClosePull(ctx, st.repo, p.Number, replaceMeta(p.Body, prMetaTag, m)); err != nil {
			return err
		}
		if ours {
			if _, err := b.Forge.DeleteBranch(ctx, st.repo, p.Head, p.HeadSHA); err != nil {
				return err
			}
		}
	}
	return nil
}

// Why the bot closes a pull request (prMeta.Closed).
const (
	closedApplied    = "applied"
	closedSuperseded = "superseded"
	closedObsolete   = "obsolete"
)

// obsolete says why pull request p (recorded as m) is no longer wanted.
func (st *repoState) obsolete(p forge.PullRequest, m prMeta, bls map[string]gomod.BuildList, f *findings) (kind, why string) {
	applied := len(m.Updates) > 0
	for _, u := range m.Updates {
		if !st.applied(u, bls) {
			applied = false
		}
	}
	if applied {
		return closedApplied, fmt.Sprintf("its updates are already on %s (%s)", st.repo.DefaultBranch, shortSHA(st.base))
	}
	var by []string
	for _, u := range m.Updates {
		for _, path := range []string{u.NewPath, u.Path} {
			br := st.proposed[path]
			if br == "" || br == p.Head {
				continue
			}
			ref := code(br)
			if i := slices.IndexFunc(st.open, func(o forge.PullRequest) bool { return o.Head == br }); i >= 0 && st.open[i].Number != 0 {
				ref = fmt.Sprintf("#%d (%s)", st.open[i].Number, code(br))
			}
			if !slices.Contains(by, ref) {
				by = append(by, ref)
			}
			break
		}
	}
	if len(by) > 0 {
		return closedSuperseded, "superseded by " + strings.Join(by, ", ")
	}
	var reasons []string
	for _, u := range m.Updates {
		switch {
		case st.applied(u, bls):
			reasons = append(reasons, fmt.Sprintf("%s %s is applied", subject(u), u.To))
		case slices.ContainsFunc(f.Refused, func(r refusal) bool { return r.Path == u.NewPath && r.Version == u.To }):
			i := slices.IndexFunc(f.Refused, func(r refusal) bool { return r.Path == u.NewPath && r.Version == u.To })
			reasons = append(reasons, fmt.Sprintf("the policy now denies %s@%s (%s)", u.NewPath, u.To, oneLine(f.Refused[i].Reason)))
		case slices.ContainsFunc(f.Ignored, func(iv ignoredVersion) bool { return iv.Path == u.NewPath && iv.Version == u.To }):
			reasons = append(reasons, fmt.Sprintf("%s@%s is ignored", u.NewPath, u.To))
		case u.Kind == gomod.KindRequire && !st.requires(u.Path) && !st.requires(u.NewPath):
			reasons = append(reasons, fmt.Sprintf("%s is no longer required", u.Path))
		default:
			reasons = append(reasons, fmt.Sprintf("%s %s is no longer proposed", subject(u), u.To))
		}
	}
	return closedObsolete, strings.Join(reasons, "; ")
}

// requires reports whether any module of the base branch requires path.
func (st *repoState) requires(path string) bool {
	for _, m := range st.mods.Modules {
		for _, r := range m.File.Require {
			if r.Mod.Path == path {
				return true
			}
		}
	}
	return false
}

// applied reports whether the base branch already has update u: every
// module requiring (or, for a transitive fix, selecting) the module has
// it at To or later, and for directives every go.mod is at To or later.
func (st *repoState) applied(u gomod.Update, bls map[string]gomod.BuildList) bool {
	mods := st.mods.Modules
	switch u.Kind {
	case gomod.KindToolchain:
		for _, m := range mods {
			tc := "go1.0"
			if m.File.Go != nil {
				tc = "go" + m.File.Go.Version
			}
			if m.File.Toolchain != nil {
				tc = m.File.Toolchain.Name
			}
			if version.Compare(tc, u.To) < 0 {
				return false
			}
		}
		return true
	case gomod.KindGo:
		for _, m := range mods {
			if m.File.Go == nil || version.Compare("go"+m.File.Go.Version, "go"+u.To) < 0 {
				return false
			}
		}
		return true
	case gomod.KindTransitive:
		seen := false
		for _, m := range mods {
			if v, ok := bls[m.Dir][u.Path]; ok {
				seen = true
				if semver.Compare(v, u.To) < 0 {
					return false
				}
			}
		}
		return seen
	}
	seen := false
	for _, m := range mods {
		for _, r := range m.File.Require {
			switch {
			case r.Mod.Path == u.NewPath:
				seen = true
				if semver.Compare(r.Mod.Version, u.To) < 0 {
					return false
				}
			case u.Major() && r.Mod.Path == u.Path:
				return false // still on the old major
			}
		}
	}
	return seen
}
