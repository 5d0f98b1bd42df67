// Package graph owns modgate's view of a Go module dependency graph: the
// requirement edges printed by `go mod graph` joined with the selected
// versions printed by `go list -m -json all`, annotations (vulnerable,
// denied, warned, replaced, outdated), queries over it (all shortest paths
// from the main module, focus and depth cuts), a diff between two
// revisions, and renderers (DOT, Mermaid, JSON, SVG through Graphviz, and a
// GitHub dependency-submission snapshot).
//
// Invariants:
//   - Nodes are module paths, one per selected module: a module appears with
//     the version the go command selected (minimal version selection), never
//     with the versions it merely considered.
//   - Selected edges are the requirements of selected module versions only
//     (and of the main modules): `go mod graph` also prints requirements of
//     versions that lost selection, which would explain nothing about the
//     build. Raw edges are kept in Graph.Edges for callers that want them.
//   - Paths are module paths as the go command prints them (before
//     replacement); a replacement is an attribute of its node.
//   - Every renderer orders nodes and edges deterministically (main modules
//     first, then by path), so outputs diff cleanly between runs.
package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// Status is a bit set of annotations on a module node.
type Status uint8

// Annotations a node can carry. The order is the display priority: a
// denied module is drawn as denied even when it is also vulnerable.
const (
	Denied Status = 1 << iota
	Vulnerable
	Warned
	Replaced
	Outdated
)

var statusNames = []struct {
	s    Status
	name string
}{{Denied, "denied"}, {Vulnerable, "vulnerable"}, {Warned, "warned"}, {Replaced, "replaced"}, {Outdated, "outdated"}}

// Names returns the annotation names in display priority order.
func (s Status) Names() []string {
	var out []string
	for _, n := range statusNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Primary returns the name of the highest-priority annotation, "" if none.
func (s Status) Primary() string {
	if n := s.Names(); len(n) > 0 {
		return n[0]
	}
	return ""
}

// ParseStatus parses an annotation name.
func ParseStatus(name string) (Status, error) {
	for _, n := range statusNames {
		if n.name == name {
			return n.s, nil
		}
	}
	return 0, fmt.Errorf("unknown status %q", name)
}

// Replacement is where a module's code comes from instead of its path.
type Replacement struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"` // "" for a directory replacement
	Dir     string `json:"dir,omitempty"`
}

// Local reports whether the replacement is a directory on disk.
func (r *Replacement) Local() bool { return r != nil && r.Version == "" }

// Module is one node: a selected module.
type Module struct {
	Path string `json:"path"`
	// Version is the selected version; "" for main modules.
	Version string `json:"version,omitempty"`
	// Main marks a main module (several in a workspace).
	Main bool `json:"main,omitempty"`
	// Indirect is the go command's "Indirect": no main module requires
	// it directly (or the requirement says // indirect).
	Indirect bool `json:"indirect,omitempty"`
	// Replace is the replacement in force, nil if none.
	Replace *Replacement `json:"replace,omitempty"`
	// Update is a newer version (from `go list -m -u`); "" if none or
	// not looked up.
	Update string `json:"update,omitempty"`
	// Time is the version's time when the go command reported it.
	Time *time.Time `json:"time,omitempty"`
	// Status holds the annotations.
	Status Status `json:"-"`
	// Notes explain the annotations (vulnerability IDs, rule names).
	Notes []string `json:"notes,omitempty"`

	synthetic bool // made up from an edge target missing from the build list
}

// ID returns "path@version", or the path for a main module.
func (m *Module) ID() string {
	if m.Version == "" {
		return m.Path
	}
	return m.Path + "@" + m.Version
}

// MarshalJSON adds the annotation names.
func (m *Module) MarshalJSON() ([]byte, error) {
	type plain Module
	return json.Marshal(struct {
		*plain
		Status []string `json:"status,omitempty"`
	}{(*plain)(m), m.Status.Names()})
}

// ModVer is a module path and version as printed by `go mod graph`
// (version "" for a main module).
type ModVer struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
}

func (mv ModVer) String() string {
	if mv.Version == "" {
		return mv.Path
	}
	return mv.Path + "@" + mv.Version
}

// Edge is one requirement: From's go.mod requires To.
type Edge struct {
	From ModVer `json:"from"`
	To   ModVer `json:"to"`
}

// Dep is a selected edge seen from its source: the target module path and
// the version the source's go.mod asks for (which may be lower than the
// selected version).
type Dep struct {
	Path      string `json:"path"`
	Requested string `json:"requested"`
}

// Graph is a module graph. Build it with [Load] or [New]; it is not safe
// for concurrent mutation, but read-only use is.
type Graph struct {
	// Modules holds the selected modules by path.
	Modules map[string]*Module
	// Edges are the raw requirement edges, in `go mod graph` order.
	Edges []Edge

	deps  map[string][]Dep    // selected edges by source path, sorted by target
	rdeps map[string][]string // reverse selected edges, sorted
}

// New builds a graph from the selected modules and the raw edges.
// Edges whose source is not a selected version are kept in Edges but not
// followed. Edge targets missing from mods are added as nodes with the
// highest version any selected edge requests (which is what the go command
// selects when the build list was not given).
func New(mods []*Module, edges []Edge) *Graph {
	g := &Graph{Modules: make(map[string]*Module, len(mods)), Edges: edges}
	for _, m := range mods {
		g.Modules[m.Path] = m
	}
	g.index()
	return g
}

func (g *Graph) index() {
	g.deps = make(map[string][]Dep)
	g.rdeps = make(map[string][]string)
	// Targets missing from the build list get the highest version any
	// edge asks for; they are found first so that their own edges are
	// followed at that version.
	// Only edges from selected versions count, so a module required
	// only by versions that lost selection never becomes a node; new
	// nodes can make more edges count, hence the fixed point.
	for changed := true; changed; {
		changed = false
		for _, e := range g.Edges {
			from, ok := g.Modules[e.From.Path]
			if !ok || from.Version != e.From.Version {
				continue
			}
			to, listed := g.Modules[e.To.Path]
			switch {
			case !listed:
				g.Modules[e.To.Path] = &Module{Path: e.To.Path, Version: e.To.Version, Indirect: true, synthetic: true}
				changed = true
			case to.synthetic && semver.Compare(e.To.Version, to.Version) > 0:
				to.Version = e.To.Version
				changed = true
			}
		}
	}
	seen := make(map[[2]string]int)
	for _, e := range g.Edges {
		from, ok := g.Modules[e.From.Path]
		if !ok || from.Version != e.From.Version {
			continue
		}
		k := [2]string{e.From.Path, e.To.Path}
		if i, dup := seen[k]; dup {
			// A go.mod names each path once, but be lenient: keep the
			// highest request.
			d := &g.deps[e.From.Path][i]
			if semver.Compare(e.To.Version, d.Requested) > 0 {
				d.Requested = e.To.Version
			}
			continue
		}
		seen[k] = len(g.deps[e.From.Path])
		g.deps[e.From.Path] = append(g.deps[e.From.Path], Dep{Path: e.To.Path, Requested: e.To.Version})
		g.rdeps[e.To.Path] = append(g.rdeps[e.To.Path], e.From.Path)
	}
	for k, ds := range g.deps {
		sort.Slice(ds, func(i, j int) bool { return ds[i].Path < ds[j].Path })
		g.deps[k] = ds
	}
	for k, rs := range g.rdeps {
		sort.Strings(rs)
		g.rdeps[k] = rs
	}
}

// Deps returns the selected dependencies of path, sorted by path.
func (g *Graph) Deps(path string) []Dep { return g.deps[path] }

// RequiredBy returns the modules whose selected versions require path,
// sorted.
func (g *Graph) RequiredBy(path string) []string { return g.rdeps[path] }

// Mains returns the main module paths, sorted.
func (g *Graph) Mains() []string {
	var out []string
	for p, m := range g.Modules {
		if m.Main {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Sorted returns the modules: main modules first, then by path.
func (g *Graph) Sorted() []*Module {
	out := make([]*Module, 0, len(g.Modules))
	for _, m := range g.Modules {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Main != out[j].Main {
			return out[i].Main
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// SelectedEdges returns every selected edge as (from, dep), ordered by
// source as in Sorted and then by target.
func (g *Graph) SelectedEdges() []SelectedEdge {
	var out []SelectedEdge
	for _, m := range g.Sorted() {
		for _, d := range g.deps[m.Path] {
			out = append(out, SelectedEdge{From: m.Path, To: d.Path, Requested: d.Requested})
		}
	}
	return out
}

// SelectedEdge is an edge between two selected modules.
type SelectedEdge struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Requested string `json:"requested"`
}

// Annotate adds status s and an optional note to the module at path; it
// reports whether the module is in the graph.
func (g *Graph) Annotate(path string, s Status, note string) bool {
	m, ok := g.Modules[path]
	if !ok {
		return false
	}
	m.Status |= s
	if note != "" && !slices.Contains(m.Notes, note) {
		m.Notes = append(m.Notes, note)
	}
	return true
}

// ParseModGraph parses the output of `go mod graph`: one edge per line,
// "from to", each "path@version" or a bare main module path.
func ParseModGraph(r io.Reader) ([]Edge, error) {
	var edges []Edge
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("go mod graph: line %d: want 2 fields, got %q", line, text)
		}
		e := Edge{From: parseModVer(f[0]), To: parseModVer(f[1])}
		if pseudoModule(e.From.Path) || pseudoModule(e.To.Path) {
			// "go@1.21" and "toolchain@go1.22.0" nodes record go
			// directives, not modules.
			continue
		}
		edges = append(edges, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("go mod graph: %w", err)
	}
	return edges, nil
}

func pseudoModule(path string) bool { return path == "go" || path == "toolchain" }

func parseModVer(s string) ModVer {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		return ModVer{Path: s[:i], Version: s[i+1:]}
	}
	return ModVer{Path: s}
}

// listModule is the subset of `go list -m -json` output that is read.
type listModule struct {
	Path     string
	Version  string
	Main     bool
	Indirect bool
	Time     *time.Time
	Dir      string
	Replace  *struct {
		Path    string
		Version string
		Dir     string
	}
	Update *struct{ Version string }
	Error  *struct{ Err string }
}

// ParseListJSON parses the output of `go list -m -json [-u] all`: a
// stream of JSON objects.
func ParseListJSON(r io.Reader) ([]*Module, error) {
	var mods []*Module
	dec := json.NewDecoder(r)
	for {
		var lm listModule
		if err := dec.Decode(&lm); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list -m -json: %w", err)
		}
		if lm.Path == "" {
			return nil, errors.New("go list -m -json: module without a path")
		}
		m := &Module{Path: lm.Path, Version: lm.Version, Main: lm.Main, Indirect: lm.Indirect, Time: lm.Time}
		if lm.Replace != nil {
			m.Replace = &Replacement{Path: lm.Replace.Path, Version: lm.Replace.Version, Dir: lm.Replace.Dir}
			m.Status |= Replaced
		}
		if lm.Update != nil && lm.Update.Version != "" {
			m.Update = lm.Update.Version
			m.Status |= Outdated
		}
		mods = append(mods, m)
	}
	return mods, nil
}

// GoCmd runs the go command. The zero value runs "go" from PATH with the
// process environment.
type GoCmd struct {
	// Path is the go command; "" means "go" from PATH.
	Path string
	// Env is the environment (KEY=VALUE); nil means the process's.
	Env []string
}

// GoCmdError is a go command that failed.
type GoCmdError struct {
	Dir    string
	Args   []string
	Stderr string // trimmed
	Err    error
}

func (e *GoCmdError) Error() string {
	msg := e.Stderr
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("go %s (in %s): %s", strings.Join(e.Args, " "), e.Dir, msg)
}

func (e *GoCmdError) Unwrap() error { return e.Err }

// ExitCode returns the go command's exit status, -1 if it did not exit.
func (e *GoCmdError) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Run runs the go command in dir with extra environment entries appended
// and returns its stdout. A non-zero exit is a *GoCmdError carrying stderr.
func (c GoCmd) Run(ctx context.Context, dir string, extraEnv []string, args ...string) ([]byte, error) {
	gobin := c.Path
	if gobin == "" {
		gobin = "go"
	}
	cmd := exec.CommandContext(ctx, gobin, args...)
	cmd.Dir = dir
	if c.Env != nil || extraEnv != nil {
		env := c.Env
		if env == nil {
			env = cmd.Environ()
		}
		cmd.Env = append(slices.Clip(env), extraEnv...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &GoCmdError{Dir: dir, Args: args, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.Bytes(), nil
}

// LoadOptions configures [Load].
type LoadOptions struct {
	// Go runs the go command.
	Go GoCmd
	// Env are extra environment entries for this load (e.g. GOWORK=off).
	Env []string
	// Updates also asks for available updates (`go list -m -u`), which
	// marks nodes Outdated; it queries GOPROXY for every module.
	Updates bool
}

// Load runs `go mod graph` and `go list -m -json all` in dir and builds
// the graph.
func Load(ctx context.Context, dir string, opts LoadOptions) (*Graph, error) {
	out, err := opts.Go.Run(ctx, dir, opts.Env, "mod", "graph")
	if err != nil {
		return nil, err
	}
	edges, err := ParseModGraph(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	args := []string{"list", "-m", "-json"}
	if opts.Updates {
		// -e keeps going when an update lookup fails for one module.
		args = append(args, "-u", "-e")
	}
	out, err = opts.Go.Run(ctx, dir, opts.Env, append(args, "all")...)
	if err != nil {
		return nil, err
	}
	mods, err := ParseListJSON(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	return New(mods, edges), nil
}
