package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/graph"
	"github.com/modgate/modgate/scanner/report"
	"github.com/modgate/modgate/scanner/vulndb"
)

// checkFlags holds the flags of `modgate check`; validate checks their
// combinations.
type checkFlags struct {
	format            string
	proxy             string
	policyFile        string
	vulnDB            string
	noVulns           bool
	failOn            string
	warnOnly          bool
	allowLocalReplace string
	sarifFile         string
	jsonFile          string
	vexFile           string
	summaryFile       string
	githubOutput      string
	annotations       string
	base              string
	skipRepro         bool
	gobin             string
	tags              string
	test              bool
	verbose           bool

	failOnParsed check.FailOn
}

func (f *checkFlags) validate() error {
	switch f.format {
	case "text", "json", "sarif", "markdown":
	default:
		return fmt.Errorf("--format %q: want text, json, sarif or markdown", f.format)
	}
	switch f.annotations {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("--annotations %q: want auto, always or never", f.annotations)
	}
	if f.proxy != "" && f.policyFile != "" {
		return errors.New("--proxy and --policy are exclusive: the proxy applies its own policy")
	}
	if f.noVulns && f.vulnDB != "" {
		return errors.New("--no-vulns and --vulndb are exclusive")
	}
	if f.noVulns && f.vexFile != "" {
		return errors.New("--vex states what the vulnerability scan found: it cannot be combined with --no-vulns")
	}
	if f.vulnDB != "" && !strings.HasPrefix(f.vulnDB, "file://") && !strings.HasPrefix(f.vulnDB, "http://") && !strings.HasPrefix(f.vulnDB, "https://") {
		return fmt.Errorf("--vulndb %q: want a file://, http:// or https:// URL", f.vulnDB)
	}
	fo, err := check.ParseFailOn(f.failOn)
	if err != nil {
		return err
	}
	f.failOnParsed = fo
	return nil
}

// runCheck implements `modgate check [flags] [DIR]`. Exit codes: 0 clean
// (or --warn-only), 1 findings at or above --fail-on, 2 usage or
// infrastructure error (the check could not conclude).
func runCheck(ctx context.Context, app *App, args []string) error {
	var f checkFlags
	fs := newFlagSet(app, "check", "[flags] [DIR]")
	fs.StringVar(&f.format, "format", "text", "output `format` on stdout: text, json, sarif or markdown")
	fs.StringVar(&f.proxy, "proxy", "", "ask the modgate at `URL` for policy decisions (its decision API) instead of evaluating the policy in-process; its /vulndb is the default vulnerability database")
	fs.StringVar(&f.policyFile, "policy", "", "policy configuration `file` for in-process evaluation (the proxy's YAML; default: the built-in rules)")
	fs.StringVar(&f.vulnDB, "vulndb", "", "vulnerability database `URL` (file://, http(s)://); default $GOVULNDB, else <proxy>/vulndb with --proxy")
	fs.BoolVar(&f.noVulns, "no-vulns", false, "skip the vulnerability scan")
	fs.StringVar(&f.failOn, "fail-on", "error", "fail on findings at or above a severity (error, warning, note), of kinds or groups (repro, policy, vuln), comma-separated; or none")
	fs.BoolVar(&f.warnOnly, "warn-only", false, "report findings but exit 0")
	fs.StringVar(&f.allowLocalReplace, "allow-local-replace", "", "module path `patterns` (GOPRIVATE syntax) whose replace directives may point at directories")
	fs.StringVar(&f.sarifFile, "sarif", "", "also write SARIF 2.1.0 to `file`")
	fs.StringVar(&f.jsonFile, "json", "", "also write the JSON report to `file`")
	fs.StringVar(&f.vexFile, "vex", "", "also write an OpenVEX document of the vulnerability findings to `file` (see docs/vex.md)")
	fs.StringVar(&f.summaryFile, "summary", "", "append the Markdown report to `file` (default $GITHUB_STEP_SUMMARY in GitHub Actions)")
	fs.StringVar(&f.githubOutput, "github-output", "", "append step outputs to `file` (default $GITHUB_OUTPUT in GitHub Actions)")
	fs.StringVar(&f.annotations, "annotations", "auto", "GitHub workflow-command annotations: auto (in GitHub Actions), always or never")
	fs.StringVar(&f.base, "base", "", "`dir` that reported file paths are relative to (default $GITHUB_WORKSPACE in Actions, else the git top level)")
	fs.BoolVar(&f.skipRepro, "skip-repro", false, "skip go mod tidy/build/verify/vendor checks")
	fs.StringVar(&f.gobin, "go", "", "the go `command` (default go from PATH)")
	fs.StringVar(&f.tags, "tags", "", "comma-separated build `tags` for the vulnerability scan")
	fs.BoolVar(&f.test, "test", false, "include test files in the vulnerability scan")
	fs.BoolVar(&f.verbose, "v", false, "log progress to stderr")
	dir, err := parseDirArgs(app, fs, args, f.validate)
	if err != nil {
		return err
	}
	inActions := app.Getenv("GITHUB_ACTIONS") == "true"
	if inActions {
		if f.summaryFile == "" {
			f.summaryFile = app.Getenv("GITHUB_STEP_SUMMARY")
		}
		if f.githubOutput == "" {
			f.githubOutput = app.Getenv("GITHUB_OUTPUT")
		}
		if f.base == "" {
			f.base = app.Getenv("GITHUB_WORKSPACE")
		}
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	logger := app.Logger(false, level)

	opts := check.Options{
		Dir:               dir,
		Base:              f.base,
		Go:                graph.GoCmd{Path: f.gobin, Env: app.Env},
		AllowLocalReplace: f.allowLocalReplace,
		SkipRepro:         f.skipRepro,
		Logger:            logger,
	}
	// The vulnerability database: scanned by govulncheck, indexed for
	// modules govulncheck does not see, and the in-process policy's
	// vulnerability facts.
	dbURL := f.vulnDB
	if dbURL == "" && !f.noVulns {
		dbURL = app.Getenv("GOVULNDB")
		if dbURL == "" && f.proxy != "" {
			dbURL = strings.TrimSuffix(f.proxy, "/") + "/vulndb"
		}
	}
	var snap *vulndb.Snapshot
	if dbURL != "" && !f.noVulns {
		l := &vulndb.Loader{Config: vulndb.Config{Source: dbURL}, Logger: logger}
		s, err := l.Load(ctx)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("vulnerability database %s: %w", upstream.Redact(dbURL), err)}
		}
		snap = s
		var tags []string
		if f.tags != "" {
			tags = strings.Split(f.tags, ",")
		}
		opts.Vulns = &check.Govulncheck{DB: dbURL, Test: f.test, Tags: tags}
		opts.VulnIndex = s
	}
	if f.proxy != "" {
		opts.Policy = &check.RemotePolicy{URL: f.proxy}
	} else {
		eng, err := newCheckEngine(ctx, app, f.policyFile, snap, logger)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		defer eng.Close()
		opts.Policy = &check.DeciderPolicy{Decider: eng.Decider()}
	}

	rep, err := check.Run(ctx, opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	in := report.Info{FailOn: f.failOnParsed, WarnOnly: f.warnOnly, ToolVersion: buildVersion()}
	if err := writeCheckOutputs(app, &f, rep, in, inActions); err != nil {
		return &exitError{code: 2, err: err}
	}
	if code := in.ExitCode(rep); code != 0 {
		return exitCode(code)
	}
	return nil
}

// writeCheckOutputs writes stdout, the files, the summary, the step
// outputs and the annotations.
func writeCheckOutputs(app *App, f *checkFlags, rep *check.Report, in report.Info, inActions bool) error {
	annotate := f.annotations == "always" || (f.annotations == "auto" && inActions)
	if annotate {
		// Workflow commands go where the runner reads them; with a
		// machine format on stdout they go to stderr to keep it clean.
		w := app.Stdout
		if f.format != "text" {
			w = app.Stderr
		}
		if err := report.WriteAnnotations(w, rep, in); err != nil {
			return err
		}
	}
	var err error
	switch f.format {
	case "json":
		err = report.WriteJSON(app.Stdout, rep, in)
	case "sarif":
		err = report.WriteSARIF(app.Stdout, rep, in)
	case "markdown":
		err = report.WriteMarkdown(app.Stdout, rep, in)
	default:
		err = report.WriteText(app.Stdout, rep, in)
	}
	if err != nil {
		return err
	}
	if f.sarifFile != "" {
		if err := writeFileWith(f.sarifFile, false, func(w io.Writer) error { return report.WriteSARIF(w, rep, in) }); err != nil {
			return err
		}
	}
	if f.jsonFile != "" {
		if err := writeFileWith(f.jsonFile, false, func(w io.Writer) error { return report.WriteJSON(w, rep, in) }); err != nil {
			return err
		}
	}
	if f.vexFile != "" {
		if err := writeFileWith(f.vexFile, false, func(w io.Writer) error { return report.WriteOpenVEX(w, rep, in) }); err != nil {
			return err
		}
	}
	if f.summaryFile != "" {
		if err := writeFileWith(f.summaryFile, true, func(w io.Writer) error { return report.WriteMarkdown(w, rep, in) }); err != nil {
			return err
		}
	}
	if f.githubOutput != "" {
		if err := writeFileWith(f.githubOutput, true, func(w io.Writer) error { return report.WriteOutputs(w, rep, in, f.sarifFile) }); err != nil {
			return err
		}
	}
	return nil
}

// writeFileWith writes (or appends to) name through fn.
func writeFileWith(name string, appendTo bool, fn func(io.Writer) error) error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	if dir := filepath.Dir(name); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	fh, err := os.OpenFile(name, flags, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(fh)
	err = fn(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// newCheckEngine builds the in-process policy engine: the policy file (or
// the built-in rules), vulnerability facts from the loaded database, and
// module facts (versions, retractions, deprecations) from GOPROXY.
func newCheckEngine(ctx context.Context, app *App, file string, snap *vulndb.Snapshot, logger *slog.Logger) (*policy.Engine, error) {
	cfg := &policy.Config{}
	if file != "" {
		c, err := policy.LoadConfig(file)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		cfg = c
	}
	// Decisions are made for this run only: no decision log unless the
	// configuration asks for one, which then goes to stderr, not stdout.
	opts := policy.Options{Config: cfg, Logger: logger, Stdout: app.Stderr}
	if snap != nil {
		opts.Vulns = snapshotVulns{snap}
	}
	if f := goproxyFacts(ctx, app, logger); f != nil {
		opts.Facts = f
	}
	eng, err := policy.NewEngine(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return eng, nil
}

// snapshotVulns adapts a vulnerability database snapshot to
// policy.VulnSource.
type snapshotVulns struct{ s *vulndb.Snapshot }

func (v snapshotVulns) Vulns(_ context.Context, mod, version string) ([]policy.Vuln, error) {
	ms, err := v.s.Affects(mod, version)
	if err != nil {
		return nil, err
	}
	out := make([]policy.Vuln, 0, len(ms))
	for _, m := range ms {
		out = append(out, policy.Vuln{ID: m.ID, Aliases: m.Aliases, Summary: m.Summary,
			Reviewed: m.ReviewStatus == vulndb.ReviewStatusReviewed, Fixed: m.Fixed})
	}
	return out, nil
}

func (v snapshotVulns) Snapshot() string { return v.s.ID }

// goproxyFacts returns module facts read through `go env GOPROXY`, nil
// when there is no usable proxy (off, direct only).
func goproxyFacts(ctx context.Context, app *App, logger *slog.Logger) policy.ModuleFacts {
	ge := readGoEnv(ctx, app)
	if ge.GOPROXY == "" || ge.GOPROXY == "off" {
		return nil
	}
	entries, err := upstream.ParseList(ge.GOPROXY)
	if err != nil || len(entries) == 0 {
		logger.Warn("module facts unavailable: GOPROXY not usable", "err", err)
		return nil
	}
	return &proxyFacts{c: &upstream.Client{Entries: entries, Logger: logger}}
}

// proxyFacts implements policy.ModuleFacts over the module proxy protocol.
type proxyFacts struct{ c *upstream.Client }

func (p *proxyFacts) get(ctx context.Context, rel string) ([]byte, error) {
	resp, err := p.c.Get(ctx, rel, upstream.Meta)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

func (p *proxyFacts) Versions(ctx context.Context, mod string) ([]string, error) {
	esc, err := module.EscapePath(mod)
	if err != nil {
		return nil, err
	}
	data, err := p.get(ctx, esc+"/@v/list")
	if errors.Is(err, upstream.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var vs []string
	for _, ln := range strings.Fields(string(data)) {
		if semver.IsValid(ln) {
			vs = append(vs, ln)
		}
	}
	return vs, nil
}

func (p *proxyFacts) LatestGoMod(ctx context.Context, mod string) ([]byte, error) {
	vs, err := p.Versions(ctx, mod)
	if err != nil {
		return nil, err
	}
	latest := latestVersion(vs)
	if latest == "" {
		return nil, policy.ErrUnknown
	}
	esc, _ := module.EscapePath(mod)
	ev, err := module.EscapeVersion(latest)
	if err != nil {
		return nil, err
	}
	data, err := p.get(ctx, esc+"/@v/"+ev+".mod")
	if errors.Is(err, upstream.ErrNotFound) {
		return nil, policy.ErrUnknown
	}
	return data, err
}

// latestVersion picks what the go command would: the highest release,
// else the highest pre-release.
func latestVersion(vs []string) string {
	best := ""
	for _, v := range vs {
		bp, vp := semver.Prerelease(best) != "", semver.Prerelease(v) != ""
		switch {
		case best == "", bp && !vp, bp == vp && semver.Compare(v, best) > 0:
			best = v
		}
	}
	return best
}

func (p *proxyFacts) Licenses(context.Context, string, string) ([]policy.License, error) {
	return nil, policy.ErrUnknown
}
