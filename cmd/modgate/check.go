package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/graph"
	"github.com/modgate/modgate/scanner/report"
	"github.com/modgate/modgate/scanner/vulndb"
)

// checkFlags holds the flags of `modgate check`; validate checks their
// combinations.
type checkFlags struct {
	sourceFlags
	format            string
	proxy             string
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
	if f.proxy != "" && (f.policyFile != "" || f.config != "") {
		return errors.New("--proxy and --policy/--config are exclusive: the proxy applies its own policy")
	}
	if err := f.sourceFlags.validate(); err != nil {
		return err
	}
	if f.noVulns && f.vexFile != "" {
		return errors.New("--vex states what the vulnerability scan found: it cannot be combined with --no-vulns")
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
	f.sourceFlags.register(fs)
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
	var tags []string
	if f.tags != "" {
		tags = strings.Split(f.tags, ",")
	}
	if f.proxy != "" {
		// The organisation's modgate judges, with its own facts; its
		// /vulndb is the database unless another is named.
		opts.Policy = &check.RemotePolicy{URL: f.proxy}
		if !f.noVulns {
			dbURL := cmp.Or(f.vulnDB, app.Getenv("GOVULNDB"), strings.TrimSuffix(f.proxy, "/")+"/vulndb")
			s, err := (&vulndb.Loader{Config: vulnDBConfig(dbURL), Logger: logger}).Load(ctx)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("vulnerability database %s: %w (use --no-vulns to check without it)", upstream.Redact(dbURL), err)}
			}
			opts.Vulns, opts.VulnIndex = &check.Govulncheck{DB: dbURL, Test: f.test, Tags: tags}, s
		}
	} else {
		// The same core as modgate serve: facts through the upstream,
		// the same vulnerability database, the same engine.
		c, cfg, err := f.oneShotCore(ctx, app, logger, app.now)
		if err != nil {
			return err
		}
		defer c.close()
		opts.Policy = &check.DeciderPolicy{Decider: c.decider}
		if s := c.snapshot(); s != nil {
			db, err := c.v1DB(cfg)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			opts.Vulns, opts.VulnIndex = &check.Govulncheck{DB: db, Test: f.test, Tags: tags}, s
		}
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
