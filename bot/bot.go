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
//     (closed without merging by a person = those versions are ignored;
//     their branches are deleted) and the dashboard issue with its
//     ticked checkboxes, all through the REST API: the bot keeps no local
//     state;
//  3. plan, asking the decision API's module endpoint for the newer
//     listed versions with modgate's facts and verdict on each (retracted
//     and pre-release versions dropped): for each requirement the newest allowed version on its major version
//     and on the next major path; for a vulnerable module anywhere in the
//     build list the smallest allowed version that fixes it (never a
//     major upgrade); optionally the toolchain and go directives;
//  4. group (security fixes first, each alone and exempt from limits,
//     non-major updates together, majors alone), then for each group
//     apply and verify in a sandbox copy, check the build-list diff
//     against the policy, and push a branch modgate/<group> (with a lease
//     on the commit the bot last pushed there) and open or update its
//     pull request; a group that fails is retried member by member;
//  5. close the pull requests whose updates were applied on the base
//     branch or are proposed elsewhere now, and delete their branches;
//  6. merge the pull requests an automerge rule selects once their
//     required checks passed;
//  7. rewrite the dashboard issue when its content changed.
//
// Invariants: a pass with nothing new makes no writes at all; a branch
// with commits the bot did not push is never pushed to again (unless
// someone ticks its rebase box); a pull request a person closed is never
// reopened; the bot talks to modgate only over HTTP (the decision API's
// client, package proxy/api, and modgate as the go command's GOPROXY) and
// never evaluates policy itself.
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
	// Platform is the GOOS-GOARCH whose golang.org/toolchain versions
	// toolchain updates are decided for. Empty means the bot's own.
	Platform string
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
	ActionOpen      ActionKind = "open"
	ActionUpdate    ActionKind = "update"
	ActionUnchanged ActionKind = "unchanged"
	ActionRefused   ActionKind = "refused"
	ActionPending   ActionKind = "pending"
	// ActionClose closes a superseded or applied pull request (and
	// deletes its branch).
	ActionClose ActionKind = "close"
	// ActionMerge merges a pull request selected by automerge.
	ActionMerge ActionKind = "merge"
	// ActionHandsOff comments on a pull request whose branch has commits
	// the bot did not push; ActionSkipped leaves such a branch alone
	// later.
	ActionHandsOff ActionKind = "hands-off"
	ActionSkipped  ActionKind = "skipped"
	// ActionDeleteBranch deletes the branch of a closed pull request.
	ActionDeleteBranch    ActionKind = "delete-branch"
	ActionDashboardCreate ActionKind = "dashboard-create"
	ActionDashboardUpdate ActionKind = "dashboard-update"
)

func (k ActionKind) write() bool {
	switch k {
	case ActionOpen, ActionUpdate, ActionClose, ActionMerge, ActionHandsOff, ActionDeleteBranch, ActionDashboardCreate, ActionDashboardUpdate:
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
	// Reason explains refused, pending, closed and skipped actions.
	Reason string
	// Updates are the requirement changes of a pull request.
	Updates []gomod.Update
	// Diff is the change an opened or updated pull request makes (the
	// commit's patch).
	Diff string
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
	lk := newLinker(b.Forge)
	g, gctx := errgroup.WithContext(ctx)
	n := b.Config.Concurrency
	if n == 0 {
		n = 2
	}
	g.SetLimit(n)
	for i, r := range repos {
		g.Go(func() error {
			rep.Repos[i] = b.processRepo(gctx, r, lk)
			return nil
		})
	}
	g.Wait()
	b.summarize(rep)
	b.logger().Info("bot pass finished", "repositories", len(repos), "writes", rep.Writes(), "dry_run", b.DryRun, "elapsed", time.Since(start).Round(time.Millisecond))
	return rep, ctx.Err()
}

// summarize prints the pass to Out; a dry run includes bodies and diffs.
func (b *Bot) summarize(rep *Report) {
	w := b.out()
	verb := map[ActionKind]string{ActionOpen: "open", ActionUpdate: "update", ActionClose: "close", ActionMerge: "merge",
		ActionHandsOff: "leave alone", ActionDeleteBranch: "delete branch", ActionDashboardCreate: "create dashboard", ActionDashboardUpdate: "update dashboard"}
	for _, rr := range rep.Repos {
		if rr.Err != nil {
			fmt.Fprintf(w, "%s: error: %v\n", rr.Repo, rr.Err)
			continue
		}
		if len(rr.Actions) == 0 {
			fmt.Fprintf(w, "%s: nothing to do\n", rr.Repo)
		}
		for _, a := range rr.Actions {
			target := a.Branch
			if a.Number != 0 {
				target = fmt.Sprintf("#%d %s", a.Number, a.Branch)
			}
			target = strings.TrimSpace(target)
			switch a.Kind {
			case ActionUnchanged:
				fmt.Fprintf(w, "%s: %s unchanged\n", rr.Repo, target)
			case ActionRefused, ActionPending, ActionSkipped:
				fmt.Fprintf(w, "%s: %s %s: %s\n", rr.Repo, a.Kind, target, oneLine(a.Reason))
			case ActionClose, ActionHandsOff, ActionDeleteBranch, ActionMerge:
				v := verb[a.Kind]
				if b.DryRun {
					v = "would " + v
				}
				fmt.Fprintf(w, "%s: %s %s: %s\n", rr.Repo, v, target, oneLine(a.Reason))
			default:
				v := verb[a.Kind]
				if b.DryRun {
					v = "would " + v
				}
				fmt.Fprintf(w, "%s: %s %s: %s\n", rr.Repo, v, target, a.Title)
				if b.DryRun {
					fmt.Fprintf(w, "----- body -----\n%s----- end -----\n", a.Body)
					if a.Diff != "" {
						fmt.Fprintf(w, "----- diff -----\n%s----- end -----\n", a.Diff)
					}
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
	repo  forge.Repo
	rc    RepoConfig
	git   *gitcmd.Git
	links *linker
	work  string
	clone string
	base  string
	mods  *gomod.Repo
	dash  *forge.Issue
	dmeta dashMeta
	// boxes are the ticked dashboard checkboxes ("kind arg").
	boxes   map[string]bool
	open    []forge.PullRequest
	ignored map[string]int // "path@version" -> closed pull request
	report  RepoReport
	board   dashboard
	// keep are the branches of open pull requests the plan still wants;
	// the others are closed.
	keep map[string]bool
	// proposed maps each module path of a planned group to the branch
	// proposing it, for "superseded by" comments.
	proposed map[string]string
	// merges are the unchanged pull requests automerge may merge.
	merges []mergeCandidate
}

func (b *Bot) processRepo(ctx context.Context, r forge.Repo, lk *linker) RepoReport {
	st := &repoState{repo: r, links: lk, report: RepoReport{Repo: r.FullName()}, keep: map[string]bool{}, proposed: map[string]string{}}
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
	st.git = &gitcmd.Git{Token: token, Env: b.env(), Name: b.Config.GitName, Email: b.Config.GitEmail, Now: b.Now}
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

// readState reads the dashboard (and its ticked boxes), the open pull
// requests and the closed ones not seen before, and deletes the branches
// of those closed ones that still hold only the bot's commit.
func (b *Bot) readState(ctx context.Context, st *repoState) error {
	var err error
	st.boxes = map[string]bool{}
	if boolOr(st.rc.Dashboard, true) {
		if st.dash, err = b.Forge.FindIssue(ctx, st.repo, DashboardLabel); err != nil {
			return err
		}
		if st.dash != nil {
			readMeta(st.dash.Body, dashMetaTag, &st.dmeta)
			st.boxes = ticked(st.dash.Body)
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
	openHead := map[string]bool{}
	for _, p := range st.open {
		openNum[p.Number] = true
		openHead[p.Head] = true
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
		if !readMeta(p.Body, prMetaTag, &m) {
			continue
		}
		if !openHead[p.Head] && m.Closed == "" && m.Head != "" {
			// The bot deletes the branches it closes itself; after a
			// person's close or merge, the branch goes if it holds
			// nothing but the bot's commit (GitHub may have deleted it).
			if err := b.deleteBranch(ctx, st, p.Number, p.Head, m.Head, "pull request #"+fmt.Sprint(p.Number)+" was "+closedHow(p)); err != nil {
				return err
			}
		}
		if p.Merged || m.Closed != "" {
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

func closedHow(p forge.PullRequest) string {
	if p.Merged {
		return "merged"
	}
	return "closed"
}

// deleteBranch deletes the branch of a closed pull request when it is
// still at sha, the commit the bot pushed.
func (b *Bot) deleteBranch(ctx context.Context, st *repoState, number int, branch, sha, why string) error {
	if b.DryRun {
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionDeleteBranch, Branch: branch, Number: number, Reason: why})
		return nil
	}
	ok, err := b.Forge.DeleteBranch(ctx, st.repo, branch, sha)
	if ok {
		st.report.Actions = append(st.report.Actions, Action{Kind: ActionDeleteBranch, Branch: branch, Number: number, Reason: why})
	}
	return err
}

// writeDashboard creates or edits the dashboard issue when its content
// changed (and creates one only when there is something to show).
func (b *Bot) writeDashboard(ctx context.Context, st *repoState) error {
	if !boolOr(st.rc.Dashboard, true) {
		return nil
	}
	d := &st.board
	for _, p := range st.open {
		if !slices.ContainsFunc(d.Edited, func(e edited) bool { return e.Number == p.Number && p.Number != 0 }) {
			d.Open = append(d.Open, prLine{Number: p.Number, Title: p.Title, Branch: p.Head})
		}
	}
	sort.SliceStable(d.Open, func(i, j int) bool {
		if (d.Open[i].Number == 0) != (d.Open[j].Number == 0) {
			return d.Open[i].Number != 0
		}
		if d.Open[i].Number != d.Open[j].Number {
			return d.Open[i].Number < d.Open[j].Number
		}
		return d.Open[i].Branch < d.Open[j].Branch
	})
	d.Refused = sortRefusals(d.Refused)
	d.Pending = sortRefusals(d.Pending)
	d.Approval = sortRefusals(d.Approval)
	sortVulnerable(d.Vulnerable)
	var ign []ignoredVersion
	for _, iv := range d.Meta.Ignored {
		iv.Reason = fmt.Sprintf("pull request #%d was closed without merging", iv.PR)
		ign = append(ign, iv)
	}
	d.Ignored = sortIgnored(append(ign, d.Ignored...))
	d.Meta.Failed = d.Failed
	slices.Sort(d.Meta.Approved)
	d.Meta.Approved = slices.Compact(d.Meta.Approved)
	body := d.render()
	switch {
	case st.dash == nil && d.empty():
		return nil
	case st.dash != nil && st.dash.Body == body:
		return nil
	case st.dash != nil && st.dash.Body == d.withScan(st.dmeta.ClosedScan):
		// Only newer closed pull requests that changed nothing (ones the
		// bot closed or merged itself): not worth a write; the next
		// run reads them again.
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
