package graph

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/semver"
)

// Diff is what changed in the module graph between two revisions.
type Diff struct {
	// From and To name the compared revisions (for display).
	From string `json:"from"`
	To   string `json:"to"`
	// Added, Removed, Upgraded and Downgraded list modules by path.
	Added      []Change `json:"added"`
	Removed    []Change `json:"removed"`
	Upgraded   []Change `json:"upgraded"`
	Downgraded []Change `json:"downgraded"`
	// AddedEdges and RemovedEdges are selected edges present on one side
	// only; an edge whose requested version changed appears in both.
	AddedEdges   []SelectedEdge `json:"added_edges"`
	RemovedEdges []SelectedEdge `json:"removed_edges"`
}

// Change is one module whose selection changed.
type Change struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"` // "" when added
	New  string `json:"new,omitempty"` // "" when removed
	// By are the selected edges that bring the module in: for added,
	// upgraded and downgraded modules the edges into it in the newer
	// graph that ask for the selected version (or, if none asks for
	// exactly that, all edges into it); for removed modules the edges
	// into it in the older graph.
	By []SelectedEdge `json:"by"`
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool {
	return len(d.Added)+len(d.Removed)+len(d.Upgraded)+len(d.Downgraded)+len(d.AddedEdges)+len(d.RemovedEdges) == 0
}

// Compare diffs two graphs; main modules are not compared.
func Compare(old, cur *Graph) *Diff {
	d := &Diff{Added: []Change{}, Removed: []Change{}, Upgraded: []Change{}, Downgraded: []Change{}}
	for _, m := range cur.Sorted() {
		if m.Main {
			continue
		}
		om, ok := old.Modules[m.Path]
		switch {
		case !ok || om.Main:
			d.Added = append(d.Added, Change{Path: m.Path, New: m.Version, By: bringers(cur, m)})
		case semver.Compare(m.Version, om.Version) > 0:
			d.Upgraded = append(d.Upgraded, Change{Path: m.Path, Old: om.Version, New: m.Version, By: bringers(cur, m)})
		case semver.Compare(m.Version, om.Version) < 0:
			d.Downgraded = append(d.Downgraded, Change{Path: m.Path, Old: om.Version, New: m.Version, By: bringers(cur, m)})
		}
	}
	for _, m := range old.Sorted() {
		if m.Main {
			continue
		}
		if nm, ok := cur.Modules[m.Path]; !ok || nm.Main {
			d.Removed = append(d.Removed, Change{Path: m.Path, Old: m.Version, By: bringers(old, m)})
		}
	}
	oldEdges := edgeSet(old)
	newEdges := edgeSet(cur)
	for _, e := range cur.SelectedEdges() {
		if !oldEdges[e] {
			d.AddedEdges = append(d.AddedEdges, e)
		}
	}
	for _, e := range old.SelectedEdges() {
		if !newEdges[e] {
			d.RemovedEdges = append(d.RemovedEdges, e)
		}
	}
	d.AddedEdges, d.RemovedEdges = nonNil(d.AddedEdges), nonNil(d.RemovedEdges)
	return d
}

func edgeSet(g *Graph) map[SelectedEdge]bool {
	s := map[SelectedEdge]bool{}
	for _, e := range g.SelectedEdges() {
		s[e] = true
	}
	return s
}

// bringers returns the edges into m asking for its selected version, or
// all edges into it when none asks for exactly that.
func bringers(g *Graph, m *Module) []SelectedEdge {
	var exact, all []SelectedEdge
	for _, from := range g.RequiredBy(m.Path) {
		for _, dep := range g.Deps(from) {
			if dep.Path != m.Path {
				continue
			}
			e := SelectedEdge{From: from, To: m.Path, Requested: dep.Requested}
			all = append(all, e)
			if dep.Requested == m.Version {
				exact = append(exact, e)
			}
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return nonNil(all)
}

// WriteDiffText writes d for people.
func WriteDiffText(w io.Writer, d *Diff) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "module graph changes from %s to %s\n", d.From, d.To)
	if d.Empty() {
		bw.WriteString("no changes\n")
		return bw.Flush()
	}
	section := func(title string, cs []Change, line func(Change) string) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(bw, "\n%s (%d):\n", title, len(cs))
		for _, c := range cs {
			fmt.Fprintf(bw, "  %s", line(c))
			if len(c.By) > 0 {
				var by []string
				for _, e := range c.By {
					by = append(by, e.From+" requires "+e.Requested)
				}
				fmt.Fprintf(bw, "  (%s)", strings.Join(by, "; "))
			}
			bw.WriteString("\n")
		}
	}
	section("added", d.Added, func(c Change) string { return "+ " + c.Path + "@" + c.New })
	section("removed", d.Removed, func(c Change) string { return "- " + c.Path + "@" + c.Old })
	section("upgraded", d.Upgraded, func(c Change) string { return "↑ " + c.Path + " " + c.Old + " → " + c.New })
	section("downgraded", d.Downgraded, func(c Change) string { return "↓ " + c.Path + " " + c.Old + " → " + c.New })
	edges := func(title, sign string, es []SelectedEdge) {
		if len(es) == 0 {
			return
		}
		fmt.Fprintf(bw, "\n%s (%d):\n", title, len(es))
		for _, e := range es {
			fmt.Fprintf(bw, "  %s %s -> %s@%s\n", sign, e.From, e.To, e.Requested)
		}
	}
	edges("edges added", "+", d.AddedEdges)
	edges("edges removed", "-", d.RemovedEdges)
	return bw.Flush()
}

// WriteDiffMarkdown writes d as a Markdown table plus a Mermaid graph of
// the changed modules and the edges that bring them in.
func WriteDiffMarkdown(w io.Writer, d *Diff, old, cur *Graph) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### Module graph changes (%s → %s)\n\n", mdCode(d.From), mdCode(d.To))
	if d.Empty() {
		bw.WriteString("No changes.\n")
		return bw.Flush()
	}
	bw.WriteString("| change | module | from | to | brought in by |\n| --- | --- | --- | --- | --- |\n")
	row := func(kind string, cs []Change) {
		for _, c := range cs {
			var by []string
			for _, e := range c.By {
				by = append(by, mdCode(e.From)+" ("+e.Requested+")")
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", kind, mdCode(c.Path), c.Old, c.New, strings.Join(by, ", "))
		}
	}
	row("added", d.Added)
	row("removed", d.Removed)
	row("upgraded", d.Upgraded)
	row("downgraded", d.Downgraded)
	bw.WriteString("\n```mermaid\n")
	if err := WriteDiffMermaid(bw, d, old, cur); err != nil {
		return err
	}
	bw.WriteString("```\n")
	return bw.Flush()
}

func mdCode(s string) string { return "`" + strings.ReplaceAll(s, "`", "") + "`" }

// DiffGraph returns the graph to draw for d: the changed modules, every
// edge that brings them in (from either side), and the paths from the main
// modules to those edges' sources, with each node's change as its class.
func DiffGraph(d *Diff, old, cur *Graph) (*Graph, map[string]string) {
	classes := map[string]string{}
	union := &Graph{Modules: map[string]*Module{}, deps: map[string][]Dep{}, rdeps: map[string][]string{}}
	add := func(m *Module, version string) {
		if _, ok := union.Modules[m.Path]; ok {
			return
		}
		cp := *m
		cp.Version = version
		cp.Status = 0
		union.Modules[m.Path] = &cp
	}
	addEdge := func(g *Graph, e SelectedEdge) {
		for _, dep := range union.deps[e.From] {
			if dep.Path == e.To {
				return
			}
		}
		// Include how the source itself is reached.
		path := g.Shortest(e.From)
		for _, p := range path {
			if m := g.Modules[p]; m != nil {
				add(m, m.Version)
			}
		}
		for i := 0; i+1 < len(path); i++ {
			union.linkOnce(path[i], path[i+1], g)
		}
		union.deps[e.From] = append(union.deps[e.From], Dep{Path: e.To, Requested: e.Requested})
		union.rdeps[e.To] = append(union.rdeps[e.To], e.From)
	}
	for _, c := range d.Added {
		add(cur.Modules[c.Path], c.New)
		classes[c.Path] = "added"
	}
	for _, c := range d.Upgraded {
		add(cur.Modules[c.Path], c.Old+" → "+c.New)
		classes[c.Path] = "upgraded"
	}
	for _, c := range d.Downgraded {
		add(cur.Modules[c.Path], c.Old+" → "+c.New)
		classes[c.Path] = "downgraded"
	}
	for _, c := range d.Removed {
		add(old.Modules[c.Path], c.Old)
		classes[c.Path] = "removed"
	}
	for _, cs := range [][]Change{d.Added, d.Upgraded, d.Downgraded} {
		for _, c := range cs {
			for _, e := range c.By {
				addEdge(cur, e)
			}
		}
	}
	for _, c := range d.Removed {
		for _, e := range c.By {
			addEdge(old, e)
		}
	}
	for k, ds := range union.deps {
		sort.Slice(ds, func(i, j int) bool { return ds[i].Path < ds[j].Path })
		union.deps[k] = ds
	}
	for _, m := range union.Modules {
		if m.Main {
			classes[m.Path] = "main"
		}
	}
	return union, classes
}

func (g *Graph) linkOnce(from, to string, src *Graph) {
	for _, d := range g.deps[from] {
		if d.Path == to {
			return
		}
	}
	req := ""
	for _, d := range src.Deps(from) {
		if d.Path == to {
			req = d.Requested
		}
	}
	g.deps[from] = append(g.deps[from], Dep{Path: to, Requested: req})
	g.rdeps[to] = append(g.rdeps[to], from)
}

// WriteDiffMermaid draws [DiffGraph] in Mermaid.
func WriteDiffMermaid(w io.Writer, d *Diff, old, cur *Graph) error {
	g, classes := DiffGraph(d, old, cur)
	return writeMermaid(w, g, func(m *Module) string { return classes[m.Path] })
}

// WriteDiffDOT draws [DiffGraph] in DOT.
func WriteDiffDOT(w io.Writer, d *Diff, old, cur *Graph) error {
	g, classes := DiffGraph(d, old, cur)
	return writeDOT(w, g, func(m *Module) string { return classes[m.Path] })
}

// WriteDiffJSON writes d as indented JSON.
func WriteDiffJSON(w io.Writer, d *Diff) error {
	return writeJSON(w, struct {
		Version int `json:"version"`
		*Diff
	}{1, d})
}

// LoadRevision loads the graph of dir as it was at git revision rev: the
// revision's tree is extracted (git archive) into a temporary directory,
// which is removed afterwards, and the go command runs in the same
// relative directory there.
func LoadRevision(ctx context.Context, dir, rev string, opts LoadOptions) (*Graph, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	top, err := git(ctx, abs, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	topDir := strings.TrimSpace(string(top))
	// Resolve symlinks on both sides so Rel works on macOS temp dirs.
	if r, err := filepath.EvalSymlinks(topDir); err == nil {
		topDir = r
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	rel, err := filepath.Rel(topDir, abs)
	if err != nil {
		return nil, err
	}
	if _, err := git(ctx, topDir, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
		return nil, fmt.Errorf("git revision %q: not found in %s", rev, topDir)
	}
	tree, err := git(ctx, topDir, "archive", "--format=tar", rev)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "modgate-graph-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := extractTar(bytes.NewReader(tree), tmp); err != nil {
		return nil, fmt.Errorf("git archive %s: %w", rev, err)
	}
	modDir := filepath.Join(tmp, rel)
	if _, err := os.Stat(filepath.Join(modDir, "go.mod")); err != nil {
		return nil, fmt.Errorf("revision %s has no %s", rev, filepath.ToSlash(filepath.Join(rel, "go.mod")))
	}
	g, err := Load(ctx, modDir, opts)
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", rev, err)
	}
	// Replacement directories pointed into the temporary tree.
	for _, m := range g.Modules {
		if m.Replace != nil && m.Replace.Dir != "" {
			if r, err := filepath.Rel(tmp, m.Replace.Dir); err == nil && !strings.HasPrefix(r, "..") {
				m.Replace.Dir = filepath.Join(topDir, r)
			}
		}
	}
	return g, nil
}

func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// extractTar writes a tar stream under dst, refusing entries that would
// land outside it.
func extractTar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("unsafe path %q in archive", h.Name)
		}
		target := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}
