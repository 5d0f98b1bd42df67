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

	"github.com/modgate/modgate/scanner/vulndb"
)

// runVulnDB implements `modgate vulndb build|affects`.
//
//	modgate vulndb build --out DIR [--source module|none|URL] [--extra DIR]... [--upstream URL] [--module PATH]
//	modgate vulndb affects [same source flags] [--json] MODULE@VERSION...
//
// With the default source ("module") the golang.org/x/vulndb module is
// fetched with the go command (so GOPROXY, GOPRIVATE and checksum
// verification apply as for any build), or, with --upstream or
// MODGATE_UPSTREAM, from that single proxy URL (no comma/pipe lists, no
// checksum verification: the running proxy does that for the server).
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
	fs.StringVar(&f.upstream, "upstream", "", "single GOPROXY URL to fetch the module from (default: the go command with its GOPROXY; env MODGATE_UPSTREAM)")
}

// loader validates the flags and returns the loader they describe.
func (f *vulndbFlags) loader(app *App) (*vulndb.Loader, error) {
	cfg := vulndb.Config{Source: f.source, ModulePath: f.module, Refresh: vulndb.RefreshOff}
	for _, d := range f.extra {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		cfg.Extra = append(cfg.Extra, abs)
	}
	if err := cfg.Validate(); err != nil {
		return nil, usageErrorf("%v", err)
	}
	l := &vulndb.Loader{
		Config: cfg,
		// Load progress is summarized on stdout; only problems go to
		// stderr.
		Logger: app.Logger(false, slog.LevelWarn),
	}
	if cfg.Source == vulndb.SourceModule || cfg.Source == "" {
		upstream := f.upstream
		if upstream == "" {
			upstream = app.Getenv("MODGATE_UPSTREAM")
		}
		switch {
		case upstream == "":
			l.Fetcher = &vulndb.GoFetcher{Env: app.Env}
		case strings.ContainsAny(upstream, ",|"):
			return nil, usageErrorf("--upstream %q: a single proxy URL is required here (lists are the proxy's job)", upstream)
		case !strings.HasPrefix(upstream, "http://") && !strings.HasPrefix(upstream, "https://"):
			return nil, usageErrorf("--upstream %q: not an http(s) URL", upstream)
		default:
			l.Fetcher = &vulndb.ProxyFetcher{URL: upstream}
		}
	}
	return l, nil
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
	l, err := f.loader(app)
	if err != nil {
		return err
	}
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
	l, err := f.loader(app)
	if err != nil {
		return err
	}
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
