package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/license"
	"github.com/modgate/modgate/scanner/vulndb"
)

const policyUsage = `Usage:

	modgate policy test [flags] [path ...]    run Rego unit tests
	modgate policy eval [flags] MODULE@VERSION  decide one module version
	modgate policy check [flags] [path ...]   validate configuration and policies

Run 'modgate policy <command> --help' for a command's flags.
`

// runPolicy dispatches the policy subcommands.
func runPolicy(ctx context.Context, app *App, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(app.Stderr, policyUsage)
		return exitCode(2)
	}
	switch args[0] {
	case "test":
		return runPolicyTest(ctx, app, args[1:])
	case "eval":
		return runPolicyEval(ctx, app, args[1:])
	case "check":
		return runPolicyCheck(ctx, app, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(app.Stderr, policyUsage)
		return nil
	}
	fmt.Fprint(app.Stderr, policyUsage)
	return usageErrorf("unknown policy command %q", args[0])
}

// loadPolicyConfig reads the policy section of file ("" means the
// MODGATE_CONFIG file, and none at all the zero configuration).
func loadPolicyConfig(app *App, file string) (*policy.Config, string, error) {
	if file == "" {
		file = app.Getenv("MODGATE_CONFIG")
	}
	if file == "" {
		return &policy.Config{}, "", nil
	}
	cfg, err := policy.LoadConfig(file)
	if err != nil {
		return nil, file, err
	}
	return cfg, file, nil
}

// loadCheckConfig loads what `policy check` validates from file ("" means
// the MODGATE_CONFIG file, and none at all the zero configuration). A
// modgate configuration file (one with a policy: or policy_file: key) is
// read with [loadConfig], exactly as serve reads it at start-up, so the
// check rejects whatever serve would; any other file is a stand-alone
// policy file. locate places the policy's later problems in their file.
func loadCheckConfig(ctx context.Context, app *App, file string) (cfg *policy.Config, locate func(error) error, path string, err error) {
	if file == "" {
		file = app.Getenv("MODGATE_CONFIG")
	}
	if file == "" {
		return &policy.Config{}, func(err error) error { return err }, "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, file, err
	}
	doc, err := yamlconf.Parse(file, data)
	if err != nil {
		return nil, nil, file, err
	}
	if !doc.Has("policy") && !doc.Has("policy_file") {
		if cfg, err = policy.LoadConfig(file); err != nil {
			return nil, nil, file, err
		}
		return cfg, cfg.Locate, file, nil
	}
	c, _, err := loadConfig(ctx, app, file, nil)
	if err != nil {
		return nil, nil, file, err
	}
	return &c.Policy, c.LocatePolicy, file, nil
}

// runPolicyTest runs the Rego unit tests: the built-in bundle's when no
// path is given, else the tests in the paths (against the built-in rules
// plus the paths' rules).
func runPolicyTest(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "policy test", "[flags] [path ...]")
	configFile := fs.String("config", "", "configuration `file` whose policy section seeds data.modgate.config (env MODGATE_CONFIG)")
	verbose := fs.Bool("v", false, "list every test, not only failures")
	run := fs.String("run", "", "run only tests whose name matches `regexp`")
	builtin := fs.Bool("builtin", false, "also run the built-in rules' tests when paths are given")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadPolicyConfig(app, *configFile)
	if err != nil {
		return err
	}
	sum, err := policy.RunTests(ctx, policy.TestOptions{
		Paths:   fs.Args(),
		Builtin: *builtin,
		Config:  cfg,
		Run:     *run,
		Verbose: *verbose,
		Output:  app.Stdout,
	})
	if err != nil {
		return err
	}
	if sum.Pass+sum.Fail+sum.Error == 0 {
		fmt.Fprintln(app.Stderr, "modgate policy test: no tests found")
		return exitCode(1)
	}
	if !sum.OK() {
		return exitCode(1)
	}
	return nil
}

type evalFlags struct {
	config, upstream, vulnDB string
	kind, now, firstSeen     string
	client, input            string
	explain, trace, json     bool
}

// runPolicyEval decides one module version with facts fetched through the
// upstream, or for a stored input document (--input), and prints the
// decision and the rules that fired.
func runPolicyEval(ctx context.Context, app *App, args []string) error {
	var f evalFlags
	fs := newFlagSet(app, "policy eval", "[flags] MODULE@VERSION")
	fs.StringVar(&f.config, "config", "", "configuration `file` with a policy section (env MODGATE_CONFIG)")
	fs.StringVar(&f.upstream, "upstream", "", "upstream `list` in GOPROXY syntax (default: env MODGATE_UPSTREAM, then go env GOPROXY)")
	fs.StringVar(&f.vulnDB, "vulndb", "", "vulnerability database: a v1 database `URL` or a directory of OSV files (default: env GOVULNDB; none means no vulnerability facts)")
	fs.StringVar(&f.kind, "kind", "zip", "artifact `kind`: info, mod, zip, list or latest")
	fs.StringVar(&f.now, "now", "", "evaluate at this RFC 3339 `time` (default: now)")
	fs.StringVar(&f.firstSeen, "first-seen", "", "RFC 3339 `time` modgate first saw the version (default: its .info time)")
	fs.StringVar(&f.client, "client", "", "requester `identity` to put in the input")
	fs.StringVar(&f.input, "input", "", "evaluate this input document `file` (\"-\" for stdin, e.g. from a decision log line) instead of fetching facts")
	fs.BoolVar(&f.explain, "explain", false, "also print the input and every rule's findings before modes and waivers")
	fs.BoolVar(&f.trace, "trace", false, "with --explain, also print OPA's evaluation trace")
	fs.BoolVar(&f.json, "json", false, "print {input, result, explanation} as JSON (exit status 0 whatever the decision)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (f.input == "") != (fs.NArg() == 1) || fs.NArg() > 1 {
		fs.Usage()
		return usageErrorf("want exactly one MODULE@VERSION, or --input")
	}
	switch proxy.Kind(f.kind) {
	case proxy.KindInfo, proxy.KindMod, proxy.KindZip, proxy.KindList, proxy.KindLatest:
	default:
		return usageErrorf("--kind %q: want info, mod, zip, list or latest", f.kind)
	}
	now := time.Now()
	if f.now != "" {
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return usageErrorf("--now: %v", err)
		}
		now = t
	}
	cfg, _, err := loadPolicyConfig(app, f.config)
	if err != nil {
		return err
	}
	logger := app.Logger(false, slog.LevelWarn)
	opts := policy.Options{Config: cfg, Logger: logger, Now: func() time.Time { return now }, DecisionLog: io.Discard}

	var in policy.Input
	var eng *policy.Engine
	if f.input != "" {
		if in, err = readInput(app, f.input); err != nil {
			return err
		}
		if f.now != "" || in.Now.IsZero() {
			in.Now = now
		}
		if eng, err = policy.NewEngine(ctx, opts); err != nil {
			return err
		}
	} else {
		mod, version, ok := strings.Cut(fs.Arg(0), "@")
		if !ok || module.CheckPath(mod) != nil || !semver.IsValid(version) || semver.Canonical(version) != version && !strings.HasSuffix(version, "+incompatible") {
			return usageErrorf("%q: want MODULE@VERSION with a canonical version", fs.Arg(0))
		}
		facts, err := evalFacts(ctx, app, f.upstream, logger)
		if err != nil {
			return err
		}
		opts.Facts = facts
		if vs, err := evalVulns(ctx, app, f.vulnDB, logger); err != nil {
			return err
		} else if vs != nil {
			opts.Vulns = vs
		} else {
			fmt.Fprintln(app.Stderr, "modgate policy eval: no vulnerability database (--vulndb or GOVULNDB); vulnerability rules see no entries")
		}
		if eng, err = policy.NewEngine(ctx, opts); err != nil {
			return err
		}
		req := policy.Request{Module: mod, Version: version, Kind: proxy.Kind(f.kind), Client: f.client}
		info, err := facts.info(ctx, mod, version)
		if err != nil {
			return fmt.Errorf("%s@%s: %w", mod, version, err)
		}
		req.Time = info
		req.FirstSeen = info // as for versions listed before modgate first listed the module
		if f.firstSeen != "" {
			if req.FirstSeen, err = time.Parse(time.RFC3339, f.firstSeen); err != nil {
				return usageErrorf("--first-seen: %v", err)
			}
		}
		if in, err = eng.Input(ctx, req); err != nil {
			return err
		}
	}
	defer eng.Close()

	ex, err := eng.Explain(ctx, in, f.trace)
	if err != nil {
		return err
	}
	res := ex.Result
	if f.json {
		out := map[string]any{"input": in, "result": jsonResult(&res)}
		if f.explain {
			out["explanation"] = map[string]any{"raw_deny": nz(ex.RawDeny), "raw_warn": nz(ex.RawWarn), "modes": ex.Modes, "waivers": ex.Waivers, "trace": ex.Trace}
		}
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if f.explain {
		b, _ := json.MarshalIndent(in, "", "  ")
		fmt.Fprintf(app.Stdout, "input:\n%s\n", b)
		policy.WriteExplanation(app.Stdout, ex)
		fmt.Fprintln(app.Stdout)
	}
	verdict := "ALLOW"
	if !res.Allowed() {
		verdict = "DENY"
	}
	fmt.Fprintf(app.Stdout, "%s@%s (%s): %s\n", in.Module, in.Version, in.Kind, verdict)
	for _, s := range []struct {
		kind string
		vs   []policy.Violation
	}{{"deny", res.Deny}, {"audit", res.Audit}, {"warn", res.Warn}} {
		for _, v := range s.vs {
			fmt.Fprintf(app.Stdout, "  %-5s %s: %s\n", s.kind, v.Rule, v.Msg)
			if v.Fix != "" {
				fmt.Fprintf(app.Stdout, "        fix: %s\n", v.Fix)
			}
		}
	}
	if !res.ValidUntil.IsZero() {
		fmt.Fprintf(app.Stdout, "valid until %s\n", res.ValidUntil.Format(time.RFC3339))
	}
	fmt.Fprintf(app.Stdout, "policy %s, vulndb %s\n", res.Digest, res.VulnDB)
	if !res.Allowed() {
		return exitCode(1)
	}
	return nil
}

func nz(v []policy.Violation) []policy.Violation {
	if v == nil {
		return []policy.Violation{}
	}
	return v
}

func jsonResult(r *policy.Result) map[string]any {
	m := map[string]any{
		"allowed": r.Allowed(), "deny": nz(r.Deny), "warn": nz(r.Warn), "audit": nz(r.Audit),
		"policy_digest": r.Digest, "vulndb": r.VulnDB,
	}
	if !r.ValidUntil.IsZero() {
		m["valid_until"] = r.ValidUntil.Format(time.RFC3339Nano)
	}
	return m
}

// readInput reads an input document, or a decision log line holding one.
func readInput(app *App, file string) (policy.Input, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(app.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return policy.Input{}, err
	}
	var line struct {
		Input json.RawMessage `json:"input"`
	}
	if json.Unmarshal(data, &line) == nil && len(line.Input) > 0 {
		data = line.Input
	}
	var in policy.Input
	if err := json.Unmarshal(data, &in); err != nil {
		return in, fmt.Errorf("input %s: %w", file, err)
	}
	if in.Module == "" || in.Version == "" {
		return in, fmt.Errorf("input %s: module and version are required", file)
	}
	return in, nil
}

// evalUpstream adds license detection and .info times to the module facts
// the check command reads through the upstream.
type evalUpstream struct {
	proxyFacts
}

func evalFacts(ctx context.Context, app *App, list string, logger *slog.Logger) (*evalUpstream, error) {
	if list == "" {
		list = app.Getenv("MODGATE_UPSTREAM")
	}
	if list == "" {
		list = readGoEnv(ctx, app).GOPROXY
	}
	entries, err := upstream.ParseList(list)
	if err != nil {
		return nil, usageErrorf("--upstream: %v", err)
	}
	usable := false
	for _, e := range entries {
		usable = usable || (e.URL != "off" && e.URL != "direct")
	}
	if !usable {
		return nil, usageErrorf("no usable upstream in %q: set --upstream or GOPROXY to a module proxy", list)
	}
	return &evalUpstream{proxyFacts{c: &upstream.Client{Entries: entries, Logger: logger}}}, nil
}

func (u *evalUpstream) info(ctx context.Context, mod, version string) (time.Time, error) {
	esc, err := module.EscapePath(mod)
	if err != nil {
		return time.Time{}, err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return time.Time{}, err
	}
	data, err := u.get(ctx, esc+"/@v/"+ev+".info")
	if err != nil {
		return time.Time{}, fmt.Errorf("fetching .info: %w", err)
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(data, &info); err != nil {
		return time.Time{}, fmt.Errorf("parsing .info: %w", err)
	}
	return info.Time, nil
}

// Licenses downloads the zip and detects its root licenses, as the proxy
// does for a verified zip.
func (u *evalUpstream) Licenses(ctx context.Context, mod, version string) ([]policy.License, error) {
	esc, err := module.EscapePath(mod)
	if err != nil {
		return nil, err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return nil, err
	}
	resp, err := u.c.Get(ctx, esc+"/@v/"+ev+".zip", upstream.Zip)
	if err != nil {
		return nil, fmt.Errorf("fetching zip: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 500<<20+1))
	if err != nil {
		return nil, fmt.Errorf("fetching zip: %w", err)
	}
	if len(data) > 500<<20 {
		return nil, errors.New("zip larger than 500 MB")
	}
	res, err := license.Detect(mod, version, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	out := make([]policy.License, 0, len(res.IDs))
	for _, id := range res.IDs {
		out = append(out, policy.License{ID: id})
	}
	return out, nil
}

// evalVulns loads the vulnerability database; nil when none is configured.
func evalVulns(ctx context.Context, app *App, src string, logger *slog.Logger) (policy.VulnSource, error) {
	if src == "" {
		src = app.Getenv("GOVULNDB")
	}
	if src == "" || src == "off" {
		return nil, nil
	}
	vc := vulndb.Config{Source: src}
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		// A directory of OSV files (in-house advisories, test fixtures).
		vc = vulndb.Config{Source: vulndb.SourceNone, Extra: []string{src}}
	}
	l := &vulndb.Loader{Config: vc, Logger: logger}
	s, err := l.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", upstream.Redact(src), err)
	}
	return snapshotVulns{s}, nil
}

// runPolicyCheck validates the configuration and compiles the policies,
// reporting every problem with its file and line.
func runPolicyCheck(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "policy check", "[flags] [path ...]")
	configFile := fs.String("config", "", "modgate configuration `file`, or a file holding just its policy section (env MODGATE_CONFIG)")
	strict := fs.Bool("strict", false, "also apply OPA's strict checks (unused variables and imports, shadowing, deprecated built-ins) to custom rules")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, locate, file, err := loadCheckConfig(ctx, app, *configFile)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		fmt.Fprintln(app.Stderr, err)
		return exitCode(1)
	}
	cfg.Paths = append(cfg.Paths, fs.Args()...)
	rep, err := policy.Check(ctx, cfg, policy.CheckOptions{Strict: *strict})
	if err != nil {
		fmt.Fprintln(app.Stderr, locate(err))
		return exitCode(1)
	}
	for _, w := range rep.Warnings {
		if file != "" {
			w = file + ": " + w
		}
		fmt.Fprintln(app.Stderr, "warning: "+w)
	}
	fmt.Fprintf(app.Stdout, "ok: %d rules (%s), policy %s\n", len(rep.Rules), strings.Join(rep.Rules, ", "), rep.Digest)
	return nil
}
