package bot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/gitcmd"
	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

// passCounts tracks a repository's pull requests against its limits.
type passCounts struct {
	openByBranch map[string]forge.PullRequest
	open         int // open pull requests
	created      int // non-security pull requests opened by this pass
}

// update plans and opens, refreshes, closes and merges pull requests.
func (b *Bot) update(ctx context.Context, st *repoState) error {
	var err error
	if st.mods, err = gomod.Discover(st.clone); err != nil {
		return err
	}
	bls, err := b.goCmd().BuildLists(ctx, st.mods)
	if err != nil {
		return fmt.Errorf("build list: %w", err)
	}
	// A build list loaded with -mod=mod may have touched go.mod or go.sum;
	// sandboxes start from the base commit as it is.
	if err := st.git.Clean(ctx, st.clone); err != nil {
		return err
	}
	f, err := b.plan(ctx, st.mods, bls, &st.rc, st.ignored)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	st.board.Refused = f.Refused
	st.board.Notes = f.Notes
	st.board.Vulnerable = f.Vulnerable
	for _, iv := range f.Ignored {
		if iv.PR == 0 {
			st.board.Ignored = append(st.board.Ignored, iv)
		}
	}
	initial := slices.Clone(st.open)
	pc := &passCounts{openByBranch: map[string]forge.PullRequest{}, open: len(st.open)}
	for _, p := range st.open {
		pc.openByBranch[p.Head] = p
	}
	groups := grouping(f.Candidates, &st.rc)
	for _, g := range groups {
		b.handleGroup(ctx, st, g, pc)
	}
	if err := b.closeObsolete(ctx, st, initial, bls, f); err != nil {
		return err
	}
	return b.automerge(ctx, st)
}

// handleGroup opens, updates or leaves alone the pull request of g, and
// after a failure retries g's members one by one. It reports whether a
// pull request for g (or for one of its members) is open now.
func (b *Bot) handleGroup(ctx context.Context, st *repoState, g *group, pc *passCounts) bool {
	branch := g.branch()
	existing, has := pc.openByBranch[branch]
	var em prMeta
	hasMeta := has && readMeta(existing.Body, prMetaTag, &em)
	rebase := st.boxes[boxRebase+" "+branch] || (has && ticked(existing.Body)[boxRebase])
	approved := st.dmeta.approved(branch) || st.boxes[boxApprove+" "+branch]
	if approved {
		// Kept while the group is planned.
		st.board.Meta.Approved = append(st.board.Meta.Approved, branch)
	}
	if has {
		st.keep[branch] = true
		markProposed(st, g)
		if !rebase {
			off, err := b.handsOff(ctx, st, existing, em, hasMeta)
			if err != nil {
				st.board.Errors = append(st.board.Errors, fmt.Sprintf("%s: %v", branch, err))
				return true
			}
			if off {
				return true
			}
		}
		if hasMeta && em.Base == st.base && sameUpdates(em.Updates, g.updates()) && !rebase {
			st.report.Actions = append(st.report.Actions, Action{Kind: ActionUnchanged, Branch: branch, Number: existing.Number, Title: existing.Title, Updates: g.updates()})
			if i := st.rc.automerge(g); i >= 0 {
				st.merges = append(st.merges, mergeCandidate{pr: existing, rule: i})
			}
			return true
		}
	}
	if !has && !approved && st.rc.needsApproval(g) {
		for _, c := range g.Updates {
			st.board.Approval = append(st.board.Approval, refusal{Path: c.NewPath, From: c.From, Version: c.To, Why: whyApproval, Branch: branch})
		}
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionPending, Branch: branch, Reason: "awaiting approval on the dashboard", Updates: g.updates()})
		return false
	}
	pending, why := "", whyLimit
	switch {
	case g.Security, st.boxes[boxCreate+" "+branch]:
	case !st.rc.Schedule.Open(b.now()):
		pending, why = "outside the schedule window", whySchedule
	case has:
	case intOr(st.rc.Limits.OpenPRs, 0) > 0 && pc.open >= *st.rc.Limits.OpenPRs:
		pending = fmt.Sprintf("limit of %d open pull requests reached", *st.rc.Limits.OpenPRs)
	case intOr(st.rc.Limits.PRsPerRun, 0) > 0 && pc.created >= *st.rc.Limits.PRsPerRun:
		pending = fmt.Sprintf("limit of %d new pull requests per run reached", *st.rc.Limits.PRsPerRun)
	}
	if pending != "" {
		for _, c := range g.Updates {
			st.board.Pending = append(st.board.Pending, refusal{Path: c.NewPath, From: c.From, Version: c.To, Why: why, Reason: pending, Branch: branch})
		}
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionPending, Branch: branch, Reason: pending, Updates: g.updates()})
		return has
	}
	key := failureKey(st.base, g.updates())
	if i := slices.IndexFunc(st.dmeta.Failed, func(f failure) bool { return f.Key == key }); i >= 0 && !st.boxes[boxRetry+" "+key] {
		// The same attempt on the same base failed before.
		st.board.Failed = append(st.board.Failed, st.dmeta.Failed[i])
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionRefused, Branch: branch, Reason: st.dmeta.Failed[i].Why + ": " + st.dmeta.Failed[i].Reason, Updates: g.updates()})
		return b.fallback(ctx, st, g, pc) || has
	}
	act, fail, err := b.propose(ctx, st, g, existing, has, em, rebase)
	switch {
	case errors.Is(err, gitcmd.ErrStale) && has:
		// Someone pushed after the pull request was read.
		b.noteEdited(ctx, st, existing, em, "commits were pushed while modgate was updating it")
		return true
	case err != nil:
		st.board.Errors = append(st.board.Errors, fmt.Sprintf("%s: %v", branch, err))
		return has
	case fail != nil:
		fail.Key = key
		st.board.Failed = append(st.board.Failed, *fail)
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionRefused, Branch: branch, Reason: fail.Why + ": " + fail.Reason, Updates: g.updates()})
		return b.fallback(ctx, st, g, pc) || has
	}
	st.report.Actions = append(st.report.Actions, act)
	st.keep[branch] = true
	markProposed(st, g)
	if has {
		for i := range st.open {
			if st.open[i].Number == act.Number {
				st.open[i].Title = act.Title
			}
		}
	} else {
		pc.open++
		if !g.Security {
			pc.created++ // security fixes do not use up the per-run limit
		}
		p := forge.PullRequest{Number: act.Number, Title: act.Title, Head: branch}
		st.open = append(st.open, p)
		pc.openByBranch[branch] = p
	}
	return true
}

// markProposed records that g's branch proposes its modules.
func markProposed(st *repoState, g *group) {
	for _, c := range g.Updates {
		st.proposed[c.Path] = g.branch()
		st.proposed[c.NewPath] = g.branch()
	}
}

// fallback retries the members of a failed group one by one, so one bad
// update does not hold back the others. It reports whether any member
// has a pull request; then the group's own pull request, if it has an
// older one, is superseded by them.
func (b *Bot) fallback(ctx context.Context, st *repoState, g *group, pc *passCounts) bool {
	if g.Parent != nil || len(g.Updates) < 2 {
		return false
	}
	opened := false
	for _, m := range g.members() {
		if b.handleGroup(ctx, st, m, pc) {
			opened = true
		}
	}
	if opened {
		delete(st.keep, g.branch())
	}
	return opened
}

// propose applies and verifies a group in a sandbox, then pushes its
// branch and opens or updates its pull request. A group that fails
// verification or policy returns a failure and writes nothing.
func (b *Bot) propose(ctx context.Context, st *repoState, g *group, existing forge.PullRequest, has bool, em prMeta, rebase bool) (Action, *failure, error) {
	log := b.logger().With("repo", st.repo.FullName(), "branch", g.branch())
	fail := func(why string, err error) (Action, *failure, error) {
		log.Info("update refused", "why", why, "err", err)
		return Action{}, &failure{Why: why, Reason: err.Error(), Group: g.Name, Update: g.updates()}, nil
	}
	sb, err := gomod.Sandbox(ctx, st.clone, st.work)
	if err != nil {
		return Action{}, nil, err
	}
	defer os.RemoveAll(sb.Root)
	goc := b.goCmd()
	before, err := goc.BuildList(ctx, sb)
	if err != nil {
		return Action{}, nil, fmt.Errorf("build list before the update: %w", err)
	}
	if err := goc.Apply(ctx, sb, g.updates()); err != nil {
		if gomod.IsStepError(err) {
			return fail(whyVerification, err)
		}
		return Action{}, nil, err
	}
	test := boolOr(st.rc.Test, false)
	steps, err := goc.Verify(ctx, sb, test)
	if err != nil {
		if gomod.IsStepError(err) {
			return fail(whyVerification, err)
		}
		return Action{}, nil, err
	}
	after, err := goc.BuildList(ctx, sb)
	if err != nil {
		return fail(whyVerification, err)
	}
	v := &verification{Steps: steps}
	var ask []api.ModuleVersion
	for _, c := range gomod.Diff(before, after) {
		v.Changes = append(v.Changes, buildChange{Change: c})
		if c.To != "" {
			ask = append(ask, api.ModuleVersion{Path: c.Path, Version: c.To})
		}
	}
	if len(ask) > 0 {
		ds, err := b.Gate.Decide(ctx, "", ask)
		if err != nil {
			return Action{}, nil, err
		}
		j := 0
		var denied []string
		for i := range v.Changes {
			if v.Changes[i].To == "" {
				continue
			}
			v.Changes[i].Decision = ds[j]
			if !ds[j].Allowed {
				denied = append(denied, fmt.Sprintf("%s@%s: %s", ds[j].Path, ds[j].Version, reason(ds[j])))
			}
			j++
		}
		if len(denied) > 0 {
			return fail(whyPolicy, fmt.Errorf("the build list would contain denied modules: %s", strings.Join(denied, "; ")))
		}
	}
	if v.Edges, err = goc.Graph(ctx, sb); err != nil {
		return fail(whyVerification, err)
	}

	ttl, err := title(&st.rc, g)
	if err != nil {
		return Action{}, nil, err
	}
	var msg strings.Builder
	msg.WriteString(ttl + "\n\n")
	for _, u := range g.updates() {
		msg.WriteString("- " + u.String() + "\n")
	}
	sha, err := st.git.CommitAll(ctx, sb.Root, g.branch(), msg.String())
	if err != nil {
		return Action{}, nil, err
	}
	if sha == "" {
		return fail(whyVerification, errors.New("the update changes no file"))
	}
	meta := prMeta{V: prMetaVersion, Group: g.Name, Base: st.base, Updates: g.updates(), Head: sha}
	in := prInput{Now: b.now(), Group: g, Verify: v, Meta: meta, GateURL: b.Gate.URL}
	for _, c := range g.Updates {
		in.Links = append(in.Links, st.links.links(ctx, c))
	}
	if i := st.rc.automerge(g); i >= 0 {
		in.Automerge, in.Method = st.rc.Automerge.Rules[i].String(), st.rc.mergeMethod()
	}
	body := prBody(in)
	act := Action{Kind: ActionOpen, Branch: g.branch(), Title: ttl, Body: body, Updates: g.updates()}
	if has {
		act.Kind, act.Number = ActionUpdate, existing.Number
	}
	if b.DryRun {
		if act.Diff, err = st.git.Diff(ctx, sb.Root); err != nil {
			return Action{}, nil, err
		}
		return act, nil, nil
	}

	// The lease is the commit the bot last pushed (recorded in the pull
	// request), or, when someone asked for a rebase or the record
	// predates it, the head the API reported.
	expect := ""
	if has {
		expect = em.Head
		if rebase || expect == "" {
			expect = existing.HeadSHA
		}
	}
	err = st.git.ForcePush(ctx, sb.Root, g.branch(), expect)
	if errors.Is(err, gitcmd.ErrStale) && !has {
		// A branch without a pull request: left over by a run that failed
		// between push and create, or pushed by someone.
		tip, err2 := b.ownBranch(ctx, st, g.branch())
		if err2 != nil {
			return Action{}, nil, err2
		}
		err = st.git.ForcePush(ctx, sb.Root, g.branch(), tip)
	}
	if err != nil {
		return Action{}, nil, fmt.Errorf("push: %w", err)
	}
	r := st.repo
	if has {
		if err := b.Forge.EditPull(ctx, r, existing.Number, ttl, body); err != nil {
			return Action{}, nil, err
		}
		var old prMeta
		readMeta(existing.Body, prMetaTag, &old)
		if err := b.Forge.Comment(ctx, r, existing.Number, updateComment(old, meta, rebase)); err != nil {
			return Action{}, nil, err
		}
	} else {
		pr, err := b.Forge.CreatePull(ctx, r, forge.NewPull{Title: ttl, Body: body, Head: g.branch(), Base: r.DefaultBranch})
		if err != nil {
			return Action{}, nil, err
		}
		act.Number = pr.Number
		labels := st.rc.Labels
		if g.Security {
			labels = append(slices.Clone(labels), st.rc.Security.labels()...)
		}
		if len(labels) > 0 {
			if err := b.Forge.AddLabels(ctx, r, pr.Number, labels); err != nil {
				return act, nil, err
			}
		}
		if len(st.rc.Reviewers)+len(st.rc.TeamReviewers) > 0 {
			if err := b.Forge.RequestReviewers(ctx, r, pr.Number, st.rc.Reviewers, st.rc.TeamReviewers); err != nil {
				return act, nil, err
			}
		}
	}
	desc := "tidy, read-only build and go mod verify passed"
	if test {
		desc = "tidy, read-only build, go mod verify and tests passed"
	}
	if err := b.Forge.SetStatus(ctx, r, sha, forge.Status{State: "success", Context: "modgate/verify", Description: desc}); err != nil {
		return act, nil, err
	}
	log.Info("pull request "+string(act.Kind), "number", act.Number)
	return act, nil, nil
}

// ownBranch returns the head of a branch that has no pull request when
// every commit on it since the base is the bot's, so the bot may push
// over it; otherwise it explains.
func (b *Bot) ownBranch(ctx context.Context, st *repoState, branch string) (string, error) {
	tip, cs, err := st.git.BranchCommits(ctx, st.clone, branch, []string{st.base}, 20)
	if err != nil {
		return "", fmt.Errorf("inspect branch %s: %w", branch, err)
	}
	if foreign := foreignCommits(st.git, cs); len(foreign) > 0 {
		return "", fmt.Errorf("branch %s exists without a pull request and has %s; delete it to let modgate use it", branch, describeCommits(foreign))
	}
	return tip, nil
}

// updateComment says why an existing pull request changed.
func updateComment(old, cur prMeta, rebase bool) string {
	var b strings.Builder
	b.WriteString("modgate updated this pull request")
	switch {
	case rebase:
		fmt.Fprintf(&b, ", rebuilt on %s as requested", shortSHA(cur.Base))
	case old.Base != "" && old.Base != cur.Base:
		fmt.Fprintf(&b, " onto the new base commit %s", shortSHA(cur.Base))
	}
	b.WriteString(".\n")
	prev := map[string]string{}
	for _, u := range old.Updates {
		prev[u.NewPath] = u.To
	}
	for _, u := range cur.Updates {
		if p, ok := prev[u.NewPath]; ok && p != u.To {
			fmt.Fprintf(&b, "\n- `%s`: %s → %s", u.NewPath, p, u.To)
		} else if !ok {
			fmt.Fprintf(&b, "\n- `%s`: now %s", u.NewPath, u.To)
		}
	}
	return strings.TrimSpace(b.String()) + "\n"
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
