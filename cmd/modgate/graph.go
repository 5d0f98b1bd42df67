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
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/graph"
	"github.com/modgate/modgate/scanner/vulndb"
)

// graphFlags holds the flags of `modgate graph`.
type graphFlags struct {
	format     string
	why        string
	focus      string
	depth      int
	diff       string
	updates    bool
	proxy      string
	policyFile string
	vulnDB     string
	out        string
	dot        string
	sha, ref   string
}

var graphFormats = []string{"text", "dot", "mermaid", "json", "svg", "markdown", "github-snapshot"}

func (f *graphFlags) validate() error {
	ok := false
	for _, v := range graphFormats {
		ok = ok || f.format == v
	}
	if !ok && f.format != "" {
		return fmt.Errorf("--format %q: want one of %s", f.format, strings.Join(graphFormats, ", "))
	}
	if f.depth < 0 {
		return fmt.Errorf("--depth %d: must not be negative", f.depth)
	}
	if f.proxy != "" && f.policyFile != "" {
		return errors.New("--proxy and --policy are exclusive")
	}
	if f.diff != "" && (f.why != "" || f.focus != "") {
		return errors.New("--diff cannot be combined with --why or --focus")
	}
	if f.why != "" && f.focus != "" {
		return errors.New("--why and --focus are exclusive")
	}
	switch {
	case f.format == "github-snapshot" && (f.diff != "" || f.why != "" || f.focus != "" || f.depth != 0):
		return errors.New("--format github-snapshot describes the whole build list: no --diff, --why, --focus or --depth")
	case f.format == "markdown" && f.diff == "":
		return errors.New("--format markdown is for --diff")
	}
	return nil
}

// runGraph implements `modgate graph [flags] [DIR]`.
func runGraph(ctx context.Context, app *App, args []string) error {
	var f graphFlags
	fs := newFlagSet(app, "graph", "[flags] [DIR]")
	fs.StringVar(&f.format, "format", "", "output `format`: "+strings.Join(graphFormats, ", ")+" (default: text with --why or --diff, else dot)")
	fs.StringVar(&f.why, "why", "", "show all shortest paths from the main module to `module`")
	fs.StringVar(&f.focus, "focus", "", "keep only the paths to `module` and its dependencies (see --depth)")
	fs.IntVar(&f.depth, "depth", 0, "keep `n` levels below the main module (or below --focus); 0 means all")
	fs.StringVar(&f.diff, "diff", "", "compare with git revision `rev`: modules added, removed, upgraded, downgraded and the edges that brought them in")
	fs.BoolVar(&f.updates, "updates", false, "mark modules with newer versions as outdated (queries GOPROXY for every module)")
	fs.StringVar(&f.proxy, "proxy", "", "mark denied and warned modules using the modgate at `URL` (its decision API)")
	fs.StringVar(&f.policyFile, "policy", "", "mark denied and warned modules using this policy configuration `file` in-process")
	fs.StringVar(&f.vulnDB, "vulndb", "", "mark vulnerable modules using the database at `URL` (file://, http(s)://; default $GOVULNDB)")
	fs.StringVar(&f.out, "o", "", "write to `file` instead of stdout")
	fs.StringVar(&f.dot, "dot", "", "Graphviz dot `command` for --format svg (default dot from PATH)")
	fs.StringVar(&f.sha, "sha", "", "commit `sha` for github-snapshot (default $GITHUB_SHA, else git HEAD)")
	fs.StringVar(&f.ref, "ref", "", "git `ref` for github-snapshot (default $GITHUB_REF, else the current branch)")
	dir, err := parseDirArgs(app, fs, args, f.validate)
	if err != nil {
		return err
	}
	if f.format == "" {
		f.format = "dot"
		if f.why != "" || f.diff != "" {
			f.format = "text"
		}
	}
	if f.format == "svg" {
		// Fail before the expensive part when Graphviz is missing.
		d := f.dot
		if d == "" {
			d = graph.DotCommand
		}
		if _, err := exec.LookPath(d); err != nil {
			return &exitError{code: 2, err: graph.ErrNoGraphviz}
		}
	}
	opts := graph.LoadOptions{Go: graph.GoCmd{Env: app.Env}, Updates: f.updates}
	g, err := graph.Load(ctx, dir, opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var old *graph.Graph
	if f.diff != "" {
		old, err = graph.LoadRevision(ctx, dir, f.diff, opts)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if err := annotateGraph(ctx, app, &f, g, old); err != nil {
		return &exitError{code: 2, err: err}
	}

	var buf bytes.Buffer
	if err := renderGraph(ctx, app, &f, dir, g, old, &buf); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	if f.out != "" {
		if err := os.WriteFile(f.out, buf.Bytes(), 0o644); err != nil {
			return &exitError{code: 2, err: err}
		}
		return nil
	}
	_, err = app.Stdout.Write(buf.Bytes())
	return err
}

// annotateGraph marks vulnerable, denied and warned modules when a
// database or policy source was given.
func annotateGraph(ctx context.Context, app *App, f *graphFlags, graphs ...*graph.Graph) error {
	dbURL := f.vulnDB
	if dbURL == "" {
		dbURL = app.Getenv("GOVULNDB")
	}
	var snap *vulndb.Snapshot
	if dbURL != "" {
		s, err := (&vulndb.Loader{Config: vulndb.Config{Source: dbURL}, Logger: app.Logger(false, slog.LevelError)}).Load(ctx)
		if err != nil {
			return fmt.Errorf("vulnerability database: %w", err)
		}
		snap = s
	}
	var pol check.Policy
	switch {
	case f.proxy != "":
		pol = &check.RemotePolicy{URL: f.proxy}
	case f.policyFile != "":
		src := sourceFlags{policyFile: f.policyFile, vulnDB: f.vulnDB, noVulns: f.vulnDB == ""}
		c, _, err := src.oneShotCore(ctx, app, app.Logger(false, slog.LevelError), app.now)
		if err != nil {
			return err
		}
		defer c.close()
		pol = &check.DeciderPolicy{Decider: c.decider}
	}
	for _, g := range graphs {
		if g == nil {
			continue
		}
		var qs []check.ModuleQuery
		var mods []*graph.Module
		for _, m := range g.Sorted() {
			if m.Main || m.Version == "" || m.Replace.Local() {
				continue
			}
			p, v := m.Path, m.Version
			if m.Replace != nil {
				p, v = m.Replace.Path, m.Replace.Version
			}
			if snap != nil {
				ms, err := snap.Affects(p, v)
				if err != nil {
					return err
				}
				for _, mt := range ms {
					g.Annotate(m.Path, graph.Vulnerable, mt.ID)
				}
			}
			qs = append(qs, check.ModuleQuery{Path: p, Version: v})
			mods = append(mods, m)
		}
		if pol == nil || len(qs) == 0 {
			continue
		}
		ds, err := pol.Evaluate(ctx, proxy.KindZip, qs)
		if err != nil {
			return err
		}
		for i, d := range ds {
			for _, v := range d.Deny {
				g.Annotate(mods[i].Path, graph.Denied, v.Rule)
			}
			for _, v := range d.Warn {
				g.Annotate(mods[i].Path, graph.Warned, v.Rule)
			}
		}
	}
	return nil
}

func renderGraph(ctx context.Context, app *App, f *graphFlags, dir string, g, old *graph.Graph, w io.Writer) error {
	if old != nil {
		d := graph.Compare(old, g)
		d.From, d.To = f.diff, "working tree"
		switch f.format {
		case "text":
			return graph.WriteDiffText(w, d)
		case "json":
			return graph.WriteDiffJSON(w, d)
		case "markdown":
			return graph.WriteDiffMarkdown(w, d, old, g)
		case "mermaid":
			return graph.WriteDiffMermaid(w, d, old, g)
		case "dot", "svg":
			var src bytes.Buffer
			if err := graph.WriteDiffDOT(&src, d, old, g); err != nil {
				return err
			}
			if f.format == "dot" {
				_, err := w.Write(src.Bytes())
				return err
			}
			return graph.RenderSVG(ctx, w, src.Bytes(), f.dot)
		}
		return usageErrorf("--format %s is not available with --diff", f.format)
	}
	if f.format == "github-snapshot" {
		return writeSnapshot(ctx, app, f, dir, g, w)
	}
	var why [][]string
	sub := g
	switch {
	case f.why != "":
		if _, ok := g.Modules[f.why]; !ok {
			return &exitError{code: 1, err: fmt.Errorf("%s is not in the build list", f.why)}
		}
		why = g.Why(f.why, 0)
		sub = g.PathsGraph(why)
		if f.depth > 0 {
			return usageErrorf("--depth does not apply to --why")
		}
	default:
		var err error
		sub, err = g.Focus(f.focus, f.depth)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	switch f.format {
	case "text":
		if why != nil {
			for _, p := range why {
				fmt.Fprintln(w, strings.Join(p, " → "))
			}
			return nil
		}
		for _, e := range sub.SelectedEdges() {
			fmt.Fprintf(w, "%s %s@%s\n", e.From, e.To, e.Requested)
		}
		return nil
	case "json":
		doc := &graph.JSONGraph{Version: 1, Main: sub.Mains(), Modules: sub.Sorted(), Edges: sub.SelectedEdges()}
		if doc.Edges == nil {
			doc.Edges = []graph.SelectedEdge{}
		}
		if why != nil {
			doc.Why = &graph.JSONWhy{Module: f.why, Paths: why}
		}
		return writeIndentedJSON(w, doc)
	case "mermaid":
		return graph.WriteMermaid(w, sub)
	case "dot":
		return graph.WriteDOT(w, sub)
	case "svg":
		var src bytes.Buffer
		if err := graph.WriteDOT(&src, sub); err != nil {
			return err
		}
		return graph.RenderSVG(ctx, w, src.Bytes(), f.dot)
	}
	return usageErrorf("--format %s needs --diff", f.format)
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeSnapshot writes the GitHub dependency-submission snapshot.
func writeSnapshot(ctx context.Context, app *App, f *graphFlags, dir string, g *graph.Graph, w io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	gitOut := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = abs
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	sha := firstNonEmpty(f.sha, app.Getenv("GITHUB_SHA"))
	if sha == "" {
		sha = gitOut("rev-parse", "HEAD")
	}
	ref := firstNonEmpty(f.ref, app.Getenv("GITHUB_REF"))
	if ref == "" {
		ref = gitOut("symbolic-ref", "-q", "HEAD")
	}
	if sha == "" || ref == "" {
		return usageErrorf("github-snapshot needs a commit and ref: run inside a git checkout or set --sha and --ref")
	}
	manifest := "go.mod"
	if top := gitOut("rev-parse", "--show-toplevel"); top != "" {
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
		if rel, err := filepath.Rel(top, filepath.Join(abs, "go.mod")); err == nil {
			manifest = filepath.ToSlash(rel)
		}
	}
	correlator := "modgate-graph"
	if wf := app.Getenv("GITHUB_WORKFLOW"); wf != "" {
		correlator = wf + "_" + app.Getenv("GITHUB_JOB") + "_" + manifest
	}
	jobURL := ""
	if srv, repo, run := app.Getenv("GITHUB_SERVER_URL"), app.Getenv("GITHUB_REPOSITORY"), app.Getenv("GITHUB_RUN_ID"); srv != "" && repo != "" && run != "" {
		jobURL = srv + "/" + repo + "/actions/runs/" + run
	}
	s := graph.NewGitHubSnapshot(g, graph.SnapshotOptions{
		Sha: sha, Ref: ref, Correlator: correlator, JobID: firstNonEmpty(app.Getenv("GITHUB_RUN_ID"), "local"), URL: jobURL,
		DetectorVersion: buildVersion(), DetectorURL: "https://github.com/modgate/modgate", Manifest: manifest,
	})
	return graph.WriteGitHubSnapshot(w, s)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
