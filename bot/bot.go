// Package bot owns modgate's update bot: it proposes Go module updates as
// pull requests, but only versions the organisation's modgate serves and
// allows, only after the whole build list that minimal version selection
// produces has passed the policy, and only once the change is verified
// reproducible (tidy, read-only build, go mod verify, optional tests).
//
// One pass ([Bot.RunOnce]) processes every configured repository:
//
//  1. shallow-clone the default branch and read .github/modgate.yaml;
//  2. read the bot's open pull requests, the closed ones not yet seen
//     (closed without merging = those versions are ignored) and the
//     dashboard issue, all through the REST API: the bot keeps no local
//     state;
//  3. plan: for each requirement ask the decision API's module endpoint
//     for the newer listed versions (same major and the next major path)
//     with modgate's facts and verdict on each, and drop retracted and
//     pre-release versions;
//  4. group (security fixes first and exempt from limits, non-major
//     updates together, majors alone), then for each group apply and
//     verify in a sandbox copy, check the build-list diff against the
//     policy, and push a branch modgate/<group> and open or update its
//     pull request;
//  5. rewrite the dashboard issue when its content changed.
//
// A pass with nothing new makes no writes at all. The bot talks to
// modgate only over HTTP (the decision API's client, package proxy/api,
// and modgate as the go command's GOPROXY) and never evaluates policy
// itself.
package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/gitcmd"
	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/proxy/api"
)

// BranchPrefix starts every branch the bot owns.
const BranchPrefix = "modgate/"

// Bot runs update passes. Config, Forge and Gate must be set; the other
// fields have defaults, so a literal works.
type Bot struct {
	Config Config
	Forge  forge.Forge
	Gate   *api.Client
	// Env is the base environment of git and go commands. Nil means
	// os.Environ().
	Env []string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives progress. Nil means slog.Default().
	Logger *slog.Logger
	// DryRun plans (including verification in sandboxes) and prints
	// what would be written to Out, but writes nothing.
	DryRun bool
	// Out receives the dry-run plan and the pass summary. Nil discards.
	Out io.Writer
}

// Report is the outcome of one pass.
type Report struct {
	Repos []RepoReport
}

// Writes counts the write actions of a pass (pushes, pull request and
// issue changes).
func (r *Report) Writes() int {
	n := 0
	for _, rr := range r.Repos {
		for _, a := range rr.Actions {
			if a.Kind.write() {
				n++
			}
		}
	}
	return n
}

// RepoReport is one repository's outcome.
type RepoReport struct {
	Repo    string
	Actions []Action
	// Err is set when the repository could not be processed.
	Err error
}

// ActionKind says what the bot did (or would do in a dry run).
type ActionKind string

// Action kinds.
const (
	ActionOpen            ActionKind = "open"
	ActionUpdate          ActionKind = "update"
	ActionUnchanged       ActionKind = "unchanged"
	ActionRefused         ActionKind = "refused"
	ActionPending         ActionKind = "pending"
	ActionDashboardCreate ActionKind = "dashboard-create"
	ActionDashboardUpdate ActionKind = "dashboard-update"
)

func (k ActionKind) write() bool {
	switch k {
	case ActionOpen, ActionUpdate, ActionDashboardCreate, ActionDashboardUpdate:
		return true
	}
	return false
}

// Action is one planned or performed change.
type Action struct {
	Kind   ActionKind
	Branch string
	// Number is the pull request or issue (0 when not yet created).
	Number int
	Title  string
	Body   string
	// Reason explains refused and pending actions.
	Reason string
	// Updates are the requirement changes of a pull request.
	Updates []gomod.Update
}

func (b *Bot) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bot) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

func (b *Bot) out() io.Writer {
	if b.Out != nil {
		return b.Out
	}
	return io.Discard
}

func (b *Bot) gate() *api.Client { return b.Gate }

func (b *Bot) env() []string {
	if b.Env != nil {
		return slices.Clone(b.Env)
	}
	return os.Environ()
}

// goCmd returns the go command runner: the base environment, the
// configured additions, and GOPROXY pointing at modgate only.
func (b *Bot) goCmd() *gomod.Go {
	env := append(b.env(), b.Config.GoEnv...)
	env = append(env, "GOPROXY="+b.Gate.URL)
	if b.Config.Modgate.GOSUMDB != "" {
		env = append(env, "GOSUMDB="+b.Config.Modgate.GOSUMDB)
	}
	return &gomod.Go{Env: env}
}

// repositories resolves the configured repositories.
func (b *Bot) repositories(ctx context.Context) ([]forge.Repo, error) {
	var out []forge.Repo
	seen := map[string]bool{}
	for _, full := range b.Config.Repositories {
		owner, name, _ := strings.Cut(full, "/")
		r, err := b.Forge.Repo(ctx, owner, name)
		if err != nil {
			return nil, err
		}
		if r.Archived {
			b.logger().Warn("skipping archived repository", "repo", full)
			continue
		}
		if !seen[r.FullName()] {
			seen[r.FullName()] = true
			out = append(out, r)
		}
	}
	if o := b.Config.Organization; o.Name != "" {
		rs, err := b.Forge.OrgRepos(ctx, o.Name)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			switch {
			case seen[r.FullName()], slices.Contains(o.Exclude, r.FullName()),
				r.Archived && !o.IncludeArchived, r.Fork && !o.IncludeForks:
				continue
			case len(o.Topics) > 0 && !slices.ContainsFunc(r.Topics, func(t string) bool { return slices.Contains(o.Topics, t) }):
				continue
			}
			seen[r.FullName()] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// RunOnce runs one pass over every repository. A repository's failure is
// recorded in its report and does not stop the others; the error is for
// failures that stop the pass (such as listing repositories).
func (b *Bot) RunOnce(ctx context.Context) (*Report, error) {
	if b.Forge == nil || b.Gate == nil {
		return nil, errors.New("bot: Forge and Gate are required")
	}
	start := time.Now()
	repos, err := b.repositories(ctx)
	if err != nil {
		return nil, err
	}
	rep := &Report{Repos: make([]RepoReport, len(repos))}
	g, gctx := errgroup.WithContext(ctx)
	n := b.Config.Concurrency
	if n == 0 {
		n = 2
	}
	g.SetLimit(n)
	for i, r := range repos {
		g.Go(func() error {
			rep.Repos[i] = b.processRepo(gctx, r)
			return nil
		})
	}
	g.Wait()
	b.summarize(rep)
	b.logger().Info("bot pass finished", "repositories", len(repos), "writes", rep.Writes(), "dry_run", b.DryRun, "elapsed", time.Since(start).Round(time.Millisecond))
	return rep, ctx.Err()
}

// summarize prints the pass to Out; a dry run includes bodies.
func (b *Bot) summarize(rep *Report) {
	w := b.out()
	verb := map[ActionKind]string{ActionOpen: "open", ActionUpdate: "update", ActionDashboardCreate: "create dashboard", ActionDashboardUpdate: "update dashboard"}
	for _, rr := range rep.Repos {
		if rr.Err != nil {
			fmt.Fprintf(w, "%s: error: %v\n", rr.Repo, rr.Err)
			continue
		}
		if len(rr.Actions) == 0 {
			fmt.Fprintf(w, "%s: nothing to do\n", rr.Repo)
		}
		for _, a := range rr.Actions {
			switch a.Kind {
			case ActionUnchanged:
				fmt.Fprintf(w, "%s: #%d %s unchanged\n", rr.Repo, a.Number, a.Branch)
			case ActionRefused, ActionPending:
				fmt.Fprintf(w, "%s: %s %s: %s\n", rr.Repo, a.Kind, a.Branch, oneLine(a.Reason))
			default:
				v := verb[a.Kind]
				if b.DryRun {
					v = "would " + v
				}
				target := a.Branch
				if a.Number != 0 {
					target = fmt.Sprintf("#%d %s", a.Number, a.Branch)
				}
				fmt.Fprintf(w, "%s: %s %s: %s\n", rr.Repo, v, strings.TrimSpace(target), a.Title)
				if b.DryRun {
					fmt.Fprintf(w, "----- body -----\n%s----- end -----\n", a.Body)
				}
			}
		}
	}
}

// Serve runs passes on the cron schedule spec (in time zone tz, "" for
// UTC) until ctx is done. A pass still running when the next is due
// makes that one skip.
func (b *Bot) Serve(ctx context.Context, spec, tz string) error {
	sched, err := ParseSchedule(spec, tz)
	if err != nil {
		return err
	}
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	c.Schedule(sched, cron.FuncJob(func() {
		if _, err := b.RunOnce(ctx); err != nil && ctx.Err() == nil {
			b.logger().Error("bot pass failed", "err", err)
		}
	}))
	b.logger().Info("bot scheduled", "schedule", spec, "timezone", tz, "next", sched.Next(b.now()))
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// repoState is what a repository's pass works with.
type repoState struct {
	repo    forge.Repo
	rc      RepoConfig
	git     *gitcmd.Git
	work    string
	clone   string
	base    string
	dash    *forge.Issue
	dmeta   dashMeta
	open    []forge.PullRequest
	ignored map[string]int // "path@version" -> closed pull request
	report  RepoReport
	board   dashboard
}

func (b *Bot) processRepo(ctx context.Context, r forge.Repo) RepoReport {
	st := &repoState{repo: r, report: RepoReport{Repo: r.FullName()}}
	log := b.logger().With("repo", r.FullName())
	if err := b.process(ctx, st); err != nil {
		log.Error("repository failed", "err", err)
		st.report.Err = err
	}
	if st.work != "" {
		os.RemoveAll(st.work)
	}
	return st.report
}

func (b *Bot) process(ctx context.Context, st *repoState) error {
	r := st.repo
	var err error
	if st.work, err = os.MkdirTemp(b.Config.WorkDir, "modgate-bot-"); err != nil {
		return err
	}
	token, err := b.Forge.GitToken(ctx)
	if err != nil {
		return err
	}
	st.git = &gitcmd.Git{Token: token, Env: b.env(), Name: b.Config.GitName, Email: b.Config.GitEmail}
	st.clone = filepath.Join(st.work, "clone")
	if st.base, err = st.git.Clone(ctx, r.CloneURL, r.DefaultBranch, st.clone); err != nil {
		return fmt.Errorf("clone: %w", err)
	}

	st.rc = b.Config.Defaults.merge(RepoConfig{})
	var cfgErr error
	if data, err := os.ReadFile(filepath.Join(st.clone, filepath.FromSlash(RepoConfigPath))); err == nil {
		rc, err := ParseRepoConfig(data)
		if err != nil {
			cfgErr = err
		} else {
			st.rc = rc.merge(b.Config.Defaults)
		}
	}
	if st.rc.Disabled && cfgErr == nil {
		return nil
	}

	if err := b.readState(ctx, st); err != nil {
		return err
	}
	if cfgErr != nil {
		for _, e := range yamlconf.Split(cfgErr) { // one entry per problem
			st.board.Errors = append(st.board.Errors, e.Error())
		}
		return b.writeDashboard(ctx, st)
	}
	if err := b.update(ctx, st); err != nil {
		st.board.Errors = append(st.board.Errors, err.Error())
		if derr := b.writeDashboard(ctx, st); derr != nil {
			return errors.Join(err, derr)
		}
		return err
	}
	return b.writeDashboard(ctx, st)
}

// readState reads the dashboard, the open pull requests and the closed
// ones not seen before.
func (b *Bot) readState(ctx context.Context, st *repoState) error {
	var err error
	if boolOr(st.rc.Dashboard, true) {
		if st.dash, err = b.Forge.FindIssue(ctx, st.repo, DashboardLabel); err != nil {
			return err
		}
		if st.dash != nil {
			readMeta(st.dash.Body, dashMetaTag, &st.dmeta)
		}
	}
	if st.open, err = b.Forge.OpenPulls(ctx, st.repo, BranchPrefix); err != nil {
		return err
	}
	closed, err := b.Forge.ClosedPulls(ctx, st.repo, BranchPrefix, st.dmeta.ClosedScan)
	if err != nil {
		return err
	}
	openNum := map[int]bool{}
	for _, p := range st.open {
		openNum[p.Number] = true
	}
	st.ignored = map[string]int{}
	scan := st.dmeta.ClosedScan
	var kept []ignoredVersion
	for _, iv := range st.dmeta.Ignored {
		if iv.PR > 0 && !openNum[iv.PR] { // a reopened pull request un-ignores
			kept = append(kept, iv)
		}
	}
	for _, p := range closed {
		if p.UpdatedAt.After(scan) {
			scan = p.UpdatedAt
		}
		var m prMeta
		if p.Merged || !readMeta(p.Body, prMetaTag, &m) {
			continue
		}
		for _, u := range m.Updates {
			kept = append(kept, ignoredVersion{Path: u.NewPath, Version: u.To, PR: p.Number})
		}
	}
	kept = sortIgnored(kept)
	for _, iv := range kept {
		st.ignored[iv.Path+"@"+iv.Version] = iv.PR
	}
	st.board.Meta = dashMeta{V: 1, ClosedScan: scan, Ignored: kept}
	return nil
}

// update plans and opens or refreshes pull requests.
func (b *Bot) update(ctx context.Context, st *repoState) error {
	mods, err := gomod.Discover(st.clone)
	if err != nil {
		return err
	}
	f, err := b.plan(ctx, mods, &st.rc, st.ignored)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	st.board.Refused = f.Refused
	st.board.Notes = f.Notes
	for _, iv := range f.Ignored {
		if iv.PR == 0 {
			st.board.Ignored = append(st.board.Ignored, iv)
		}
	}
	openByBranch := map[string]forge.PullRequest{}
	for _, p := range st.open {
		openByBranch[p.Head] = p
	}
	openCount := len(st.open)
	created := 0
	now := b.now()
	for _, g := range grouping(f.Candidates, &st.rc) {
		existing, has := openByBranch[g.branch()]
		var em prMeta
		if has && readMeta(existing.Body, prMetaTag, &em) && em.Base == st.base && sameUpdates(em.Updates, g.updates()) {
			st.report.Actions = append(st.report.Actions, Action{Kind: ActionUnchanged, Branch: g.branch(), Number: existing.Number, Title: existing.Title, Updates: g.updates()})
			continue
		}
		pending, why := "", whyLimit
		switch {
		case g.Security:
		case !st.rc.Schedule.Open(now):
			pending, why = "outside the schedule window", whySchedule
		case has:
		case intOr(st.rc.Limits.OpenPRs, 0) > 0 && openCount >= *st.rc.Limits.OpenPRs:
			pending = fmt.Sprintf("limit of %d open pull requests reached", *st.rc.Limits.OpenPRs)
		case intOr(st.rc.Limits.PRsPerRun, 0) > 0 && created >= *st.rc.Limits.PRsPerRun:
			pending = fmt.Sprintf("limit of %d new pull requests per run reached", *st.rc.Limits.PRsPerRun)
		}
		if pending != "" {
			for _, c := range g.Updates {
				st.board.Pending = append(st.board.Pending, refusal{Path: c.NewPath, From: c.From, Version: c.To, Why: why, Reason: pending})
			}
			st.report.Actions = append(st.report.Actions, Action{Kind: ActionPending, Branch: g.branch(), Reason: pending, Updates: g.updates()})
			continue
		}
		key := failureKey(st.base, g.updates())
		if i := slices.IndexFunc(st.dmeta.Failed, func(f failure) bool { return f.Key == key }); i >= 0 {
			// The same attempt on the same base failed before.
			st.board.Failed = append(st.board.Failed, st.dmeta.Failed[i])
			st.report.Actions = append(st.report.Actions, Action{Kind: ActionRefused, Branch: g.branch(), Reason: st.dmeta.Failed[i].Reason, Updates: g.updates()})
			continue
		}
		act, fail, err := b.propose(ctx, st, g, existing, has)
		switch {
		case err != nil:
			st.board.Errors = append(st.board.Errors, fmt.Sprintf("%s: %v", g.branch(), err))
			continue
		case fail != nil:
			fail.Key = key
			st.board.Failed = append(st.board.Failed, *fail)
			st.report.Actions = append(st.report.Actions, Action{Kind: ActionRefused, Branch: g.branch(), Reason: fail.Why + ": " + fail.Reason, Updates: g.updates()})
			continue
		}
		st.report.Actions = append(st.report.Actions, act)
		if has {
			for i := range st.open {
				if st.open[i].Number == act.Number {
					st.open[i].Title = act.Title
				}
			}
		} else {
			openCount++
			if !g.Security {
				created++ // security fixes do not use up the per-run limit
			}
			st.open = append(st.open, forge.PullRequest{Number: act.Number, Title: act.Title, Head: g.branch()})
		}
	}
	return nil
}

// propose applies and verifies a group in a sandbox, then pushes its
// branch and opens or updates its pull request. A group that fails
// verification or policy returns a failure and writes nothing.
func (b *Bot) propose(ctx context.Context, st *repoState, g *group, existing forge.PullRequest, has bool) (Action, *failure, error) {
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
	meta := prMeta{V: 1, Group: g.Name, Base: st.base, Updates: g.updates()}
	body := prBody(b.now(), g, v, meta, b.Gate.URL)
	act := Action{Kind: ActionOpen, Branch: g.branch(), Title: ttl, Body: body, Updates: g.updates()}
	if has {
		act.Kind, act.Number = ActionUpdate, existing.Number
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
	if b.DryRun {
		return act, nil, nil
	}
	expect := ""
	if has {
		expect = existing.HeadSHA
	}
	if err := st.git.ForcePush(ctx, sb.Root, g.branch(), expect); err != nil {
		return Action{}, nil, fmt.Errorf("push: %w", err)
	}
	r := st.repo
	if has {
		if err := b.Forge.EditPull(ctx, r, existing.Number, ttl, body); err != nil {
			return Action{}, nil, err
		}
		var old prMeta
		readMeta(existing.Body, prMetaTag, &old)
		if err := b.Forge.Comment(ctx, r, existing.Number, updateComment(old, meta)); err != nil {
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
			labels = append(slices.Clone(labels), "security")
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

// updateComment says why an existing pull request changed.
func updateComment(old, cur prMeta) string {
	var b strings.Builder
	b.WriteString("modgate updated this pull request")
	if old.Base != "" && old.Base != cur.Base {
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

// writeDashboard creates or edits the dashboard issue when its content
// changed (and creates one only when there is something to show).
func (b *Bot) writeDashboard(ctx context.Context, st *repoState) error {
	if !boolOr(st.rc.Dashboard, true) {
		return nil
	}
	d := &st.board
	for _, p := range st.open {
		d.Open = append(d.Open, prLine{Number: p.Number, Title: p.Title})
	}
	sort.Slice(d.Open, func(i, j int) bool { return d.Open[i].Number < d.Open[j].Number })
	sortRefusals(d.Refused)
	sortRefusals(d.Pending)
	var ign []ignoredVersion
	for _, iv := range d.Meta.Ignored {
		iv.Reason = fmt.Sprintf("pull request #%d was closed without merging", iv.PR)
		ign = append(ign, iv)
	}
	d.Ignored = sortIgnored(append(ign, d.Ignored...))
	d.Meta.Failed = d.Failed
	body := d.render()
	switch {
	case st.dash == nil && d.empty():
		return nil
	case st.dash != nil && st.dash.Body == body:
		return nil
	}
	act := Action{Kind: ActionDashboardCreate, Title: dashboardTitle, Body: body}
	if st.dash != nil {
		act.Kind, act.Number = ActionDashboardUpdate, st.dash.Number
	}
	st.report.Actions = append(st.report.Actions, act)
	if b.DryRun {
		return nil
	}
	if st.dash != nil {
		return b.Forge.EditIssue(ctx, st.repo, st.dash.Number, dashboardTitle, body)
	}
	is, err := b.Forge.CreateIssue(ctx, st.repo, dashboardTitle, body, []string{DashboardLabel})
	if err != nil {
		return err
	}
	st.report.Actions[len(st.report.Actions)-1].Number = is.Number
	return nil
}
