package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/scanner/vulndb"
)

// runVulnDB implements `modgate vulndb build|affects`.
//
//	modgate vulndb build --out DIR [--source module|none|URL] [--extra DIR]... [--upstream URL] [--module PATH]
//	modgate vulndb affects [same source flags] [--json] MODULE@VERSION...
//
// With the default source ("module") the vulnerability-DB module is
// fetched exactly as `modgate serve` fetches it: its latest version as the
// go command resolves it, through the configured upstream list (--upstream,
// MODGATE_UPSTREAM, the configuration file, else go env GOPROXY), verified
// against the checksum database and cached in modgate's cache.
func runVulnDB(ctx context.Context, app *App, args []string) error {
	const usage = "build|affects [flags]"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(app.Stderr, "Usage: modgate vulndb %s\n\n"+
			"\tbuild    write the vulnerability database in the v1 layout (for govulncheck -db file://DIR)\n"+
			"\taffects  list the entries affecting MODULE@VERSION (stdlib@go1.21.3 and\n"+
			"\t         golang.org/toolchain@v0.0.1-go1.21.3.linux-amd64 work too)\n\n"+
			"Run 'modgate vulndb <subcommand> --help' for flags.\n", usage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	switch args[0] {
	case "build":
		return runVulnDBBuild(ctx, app, args[1:])
	case "affects":
		return runVulnDBAffects(ctx, app, args[1:])
	}
	return usageErrorf("unknown subcommand %q (want build or affects)", args[0])
}

// vulndbFlags are the source flags shared by the subcommands.
type vulndbFlags struct {
	source   string
	module   string
	extra    stringList
	upstream string
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (f *vulndbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.source, "source", vulndb.SourceModule, "database source: \"module\" (golang.org/x/vulndb via the upstream), \"none\", or an http(s):// or file:// URL of a v1 database")
	fs.StringVar(&f.module, "module", "", "module to load for --source module (default golang.org/x/vulndb)")
	fs.Var(&f.extra, "extra", "directory of extra OSV files (repeatable)")
	fs.StringVar(&f.upstream, "upstream", "", "upstream `list` in GOPROXY syntax to fetch the module through (default: env MODGATE_UPSTREAM, the configuration's, else go env GOPROXY)")
}

// loader validates the flags and returns the loader they describe, and a
// function releasing what it holds.
func (f *vulndbFlags) loader(ctx context.Context, app *App) (*vulndb.Loader, func(), error) {
	cfg := vulndb.Config{Source: f.source, ModulePath: f.module, Refresh: vulndb.RefreshOff}
	for _, d := range f.extra {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, nil, err
		}
		cfg.Extra = append(cfg.Extra, abs)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, usageErrorf("%v", err)
	}
	logger := app.Logger(false, slog.LevelWarn) // progress is summarized on stdout
	l := &vulndb.Loader{Config: cfg, Logger: logger}
	if cfg.Source != vulndb.SourceModule && cfg.Source != "" {
		return l, func() {}, nil
	}
	// The module through the same verified cache and facts as serve.
	src := sourceFlags{upstream: f.upstream, noVulns: true}
	sc, _, err := src.resolve(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	c, err := newCore(ctx, sc, readGoEnv(ctx, app), coreOptions{logger: logger, oneShot: true, noVulns: true, stdout: app.Stderr})
	if err != nil {
		return nil, nil, &exitError{code: 2, err: err}
	}
	l.Fetcher = facts.Fetcher{S: c.facts}
	return l, c.close, nil
}

func runVulnDBBuild(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "vulndb build", "--out DIR [flags]")
	var f vulndbFlags
	f.register(fs)
	out := fs.String("out", "", "output directory (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("--out is required")
	}
	if fs.NArg() != 0 {
		return usageErrorf("unexpected arguments: %v", fs.Args())
	}
	l, done, err := f.loader(ctx, app)
	if err != nil {
		return err
	}
	defer done()
	s, err := l.Load(ctx)
	if err != nil {
		return err
	}
	if err := s.Build(*out); err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "wrote %d entries to %s\nsource:   %s\nmodified: %s\nid:       %s\n",
		s.Len(), *out, s.Source, s.Modified.Format(time.RFC3339), s.ID)
	return nil
}

func runVulnDBAffects(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "vulndb affects", "[flags] MODULE@VERSION...")
	var f vulndbFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	withdrawn := fs.Bool("withdrawn", false, "also list withdrawn entries")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf("want at least one MODULE@VERSION")
	}
	type query struct{ module, version string }
	var qs []query
	for _, a := range fs.Args() {
		m, v, ok := strings.Cut(a, "@")
		if !ok || m == "" || v == "" {
			return usageErrorf("%q is not MODULE@VERSION", a)
		}
		qs = append(qs, query{m, v})
	}
	l, done, err := f.loader(ctx, app)
	if err != nil {
		return err
	}
	defer done()
	s, err := l.Load(ctx)
	if err != nil {
		return err
	}
	type result struct {
		Module  string         `json:"module"`
		Version string         `json:"version"`
		Matches []vulndb.Match `json:"matches"`
	}
	var results []result
	for _, q := range qs {
		var ms []vulndb.Match
		var err error
		if *withdrawn {
			ms, err = s.Index().Explain(q.module, q.version)
		} else {
			ms, err = s.Affects(q.module, q.version)
		}
		if err != nil {
			var ive *vulndb.InvalidVersionError
			if errors.As(err, &ive) {
				return usageErrorf("%v", err)
			}
			return err
		}
		results = append(results, result{q.module, q.version, ms})
	}
	if *asJSON {
		return writeAffectsJSON(app.Stdout, s, results)
	}
	for _, r := range results {
		if len(r.Matches) == 0 {
			fmt.Fprintf(app.Stdout, "%s@%s: no known vulnerabilities\n", r.Module, r.Version)
			continue
		}
		for _, m := range r.Matches {
			fixed := m.Fixed
			if fixed == "" {
				fixed = "none"
			}
			line := fmt.Sprintf("%s@%s: %s", r.Module, r.Version, m.ID)
			if m.Module != r.Module {
				line += " (" + m.Module + ")"
			}
			line += " fixed in " + fixed
			if len(m.Aliases) > 0 {
				line += " [" + strings.Join(m.Aliases, ", ") + "]"
			}
			if m.Withdrawn {
				line += " WITHDRAWN"
			}
			if m.Summary != "" {
				line += ": " + m.Summary
			}
			fmt.Fprintln(app.Stdout, line)
		}
	}
	return nil
}

// affectsReport is the --json output of `modgate vulndb affects`.
type affectsReport struct {
	Database affectsDB `json:"database"`
	Results  any       `json:"results"`
}

type affectsDB struct {
	ID       string    `json:"id"`
	Source   string    `json:"source"`
	Modified time.Time `json:"modified"`
}

func writeAffectsJSON(w io.Writer, s *vulndb.Snapshot, results any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(affectsReport{Database: affectsDB{s.ID, s.Source, s.Modified}, Results: results})
}
