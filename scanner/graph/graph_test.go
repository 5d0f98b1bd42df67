package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/modgate/modgate/scanner/check/checktest"
	"github.com/modgate/modgate/scanner/graph"
)

const modGraph = `example.com/main example.com/a@v1.0.0
example.com/main example.com/b@v1.0.0
example.com/main go@1.21
example.com/a@v1.0.0 example.com/c@v1.0.0
example.com/a@v1.0.0 go@1.21
example.com/b@v1.0.0 example.com/c@v1.1.0
example.com/c@v1.0.0 example.com/old@v0.1.0
example.com/c@v1.1.0 example.com/d@v1.0.0
example.com/d@v1.0.0 toolchain@go1.22.0
`

const listJSON = `{"Path":"example.com/main","Main":true,"Dir":"/src"}
{"Path":"example.com/a","Version":"v1.0.0","Time":"2024-01-01T00:00:00Z","Update":{"Path":"example.com/a","Version":"v1.2.0"}}
{"Path":"example.com/b","Version":"v1.0.0","Replace":{"Path":"example.com/bfork","Version":"v1.0.1"}}
{"Path":"example.com/c","Version":"v1.1.0","Indirect":true}
{"Path":"example.com/d","Version":"v1.0.0","Indirect":true,"Replace":{"Path":"../d","Dir":"/d"}}
`

func sample(t testing.TB) *graph.Graph {
	t.Helper()
	edges, err := graph.ParseModGraph(strings.NewReader(modGraph))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := graph.ParseListJSON(strings.NewReader(listJSON))
	if err != nil {
		t.Fatal(err)
	}
	return graph.New(mods, edges)
}

func TestParseAndSelect(t *testing.T) {
	g := sample(t)
	if len(g.Edges) != 6 {
		t.Errorf("raw edges = %d, want 6 (go@ and toolchain@ dropped)", len(g.Edges))
	}
	var got []string
	for _, e := range g.SelectedEdges() {
		got = append(got, e.From+">"+e.To+"@"+e.Requested)
	}
	// c@v1.0.0 lost selection: its requirement on old is not followed,
	// and old is not a node.
	want := []string{
		"example.com/main>example.com/a@v1.0.0",
		"example.com/main>example.com/b@v1.0.0",
		"example.com/a>example.com/c@v1.0.0",
		"example.com/b>example.com/c@v1.1.0",
		"example.com/c>example.com/d@v1.0.0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SelectedEdges = %q, want %q", got, want)
	}
	if _, ok := g.Modules["example.com/old"]; ok {
		t.Errorf("module required only by a non-selected version became a node")
	}
	a, b, d := g.Modules["example.com/a"], g.Modules["example.com/b"], g.Modules["example.com/d"]
	if a.Update != "v1.2.0" || a.Status.Names()[0] != "outdated" || a.Time == nil {
		t.Errorf("a = %+v", a)
	}
	if b.Replace == nil || b.Replace.Path != "example.com/bfork" || b.Replace.Local() || b.Status.Primary() != "replaced" {
		t.Errorf("b = %+v", b)
	}
	if !d.Replace.Local() {
		t.Errorf("d replacement should be local: %+v", d.Replace)
	}
	if got := g.Mains(); !reflect.DeepEqual(got, []string{"example.com/main"}) {
		t.Errorf("Mains = %v", got)
	}
	if got := g.RequiredBy("example.com/c"); !reflect.DeepEqual(got, []string{"example.com/a", "example.com/b"}) {
		t.Errorf("RequiredBy(c) = %v", got)
	}
	for _, bad := range []string{"a b c\n", "onlyone\n"} {
		if _, err := graph.ParseModGraph(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseModGraph(%q) succeeded", bad)
		}
	}
	if _, err := graph.ParseListJSON(strings.NewReader(`{"Version":"v1"}`)); err == nil {
		t.Errorf("ParseListJSON without Path succeeded")
	}
}

func TestWhyFocusDepth(t *testing.T) {
	g := sample(t)
	for _, tc := range []struct {
		target string
		want   [][]string
	}{
		{"example.com/d", [][]string{
			{"example.com/main", "example.com/a", "example.com/c", "example.com/d"},
			{"example.com/main", "example.com/b", "example.com/c", "example.com/d"},
		}},
		{"example.com/a", [][]string{{"example.com/main", "example.com/a"}}},
		{"example.com/main", [][]string{{"example.com/main"}}},
		{"example.com/nope", nil},
	} {
		if got := g.Why(tc.target, 0); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Why(%s) = %v, want %v", tc.target, got, tc.want)
		}
	}
	if got := g.Why("example.com/d", 1); len(got) != 1 {
		t.Errorf("Why(d, limit 1) = %v", got)
	}
	nodes := func(g *graph.Graph) string {
		var ps []string
		for p := range g.Modules {
			ps = append(ps, strings.TrimPrefix(p, "example.com/"))
		}
		sort.Strings(ps)
		return strings.Join(ps, ",")
	}
	for _, tc := range []struct {
		focus string
		depth int
		want  string
	}{
		{"", 0, "a,b,c,d,main"},
		{"", 1, "a,b,main"},
		{"", 2, "a,b,c,main"},
		{"example.com/c", 0, "a,b,c,d,main"},
		{"example.com/a", 0, "a,c,d,main"},
		{"example.com/a", 1, "a,c,main"},
		{"example.com/d", 0, "a,b,c,d,main"},
	} {
		sub, err := g.Focus(tc.focus, tc.depth)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodes(sub); got != tc.want {
			t.Errorf("Focus(%q, %d) = %s, want %s", tc.focus, tc.depth, got, tc.want)
		}
	}
	if _, err := g.Focus("example.com/nope", 0); err == nil {
		t.Errorf("Focus on a missing module succeeded")
	}
	p := g.PathsGraph(g.Why("example.com/d", 1))
	if got := len(p.SelectedEdges()); got != 3 {
		t.Errorf("PathsGraph of one path has %d edges, want 3", got)
	}
}

// needDot returns the dot command, failing under CI (where .ci/run
// installs Graphviz) and skipping elsewhere when it is missing.
func needDot(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Graphviz dot is required under CI: %v", err)
		}
		t.Skip("Graphviz dot not installed")
	}
	return p
}

// dotJSON is the subset of `dot -Tjson` output read back.
type dotJSON struct {
	Objects []struct {
		GVID  int    `json:"_gvid"`
		Name  string `json:"name"`
		Label string `json:"label"`
		Fill  string `json:"fillcolor"`
	} `json:"objects"`
	Edges []struct {
		Tail  int    `json:"tail"`
		Head  int    `json:"head"`
		Label string `json:"label"`
	} `json:"edges"`
}

// TestDOTGraphviz renders the DOT output with Graphviz and reads the
// graph back from dot's JSON output.
func TestDOTGraphviz(t *testing.T) {
	dot := needDot(t)
	g := sample(t)
	g.Annotate("example.com/c", graph.Vulnerable, "GO-1")
	g.Annotate("example.com/d", graph.Denied, `rule "quoted" \ backslash`)
	var src bytes.Buffer
	if err := graph.WriteDOT(&src, g); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := graph.RenderDOT(context.Background(), &out, src.Bytes(), dot, "json"); err != nil {
		t.Fatalf("dot rejected the DOT output: %v\n%s", err, src.String())
	}
	var dj dotJSON
	if err := json.Unmarshal(out.Bytes(), &dj); err != nil {
		t.Fatal(err)
	}
	names := map[int]string{}
	fills := map[string]string{}
	for _, o := range dj.Objects {
		names[o.GVID] = o.Name
		fills[o.Name] = o.Fill
	}
	if len(names) != len(g.Modules) {
		t.Errorf("dot read %d nodes, want %d", len(names), len(g.Modules))
	}
	var got []string
	for _, e := range dj.Edges {
		got = append(got, names[e.Tail]+">"+names[e.Head]+" "+e.Label)
	}
	var want []string
	for _, e := range g.SelectedEdges() {
		lab := ""
		if e.Requested != g.Modules[e.To].Version {
			lab = e.Requested
		}
		want = append(want, e.From+">"+e.To+" "+lab)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dot edges = %q, want %q", got, want)
	}
	if fills["example.com/d"] != "#fecaca" || fills["example.com/c"] != "#fed7aa" {
		t.Errorf("fill colors = %v", fills)
	}
	var svg bytes.Buffer
	if err := graph.RenderSVG(context.Background(), &svg, src.Bytes(), dot); err != nil || !bytes.Contains(svg.Bytes(), []byte("<svg")) {
		t.Errorf("RenderSVG: %v", err)
	}
	// Broken DOT is reported, not rendered.
	if err := graph.RenderSVG(context.Background(), &svg, []byte("digraph { a -> }"), dot); err == nil {
		t.Errorf("RenderSVG accepted broken DOT")
	}
}

func TestRenderSVGWithoutGraphviz(t *testing.T) {
	err := graph.RenderSVG(context.Background(), &bytes.Buffer{}, []byte("digraph {}"), "/nonexistent/dot")
	if !errors.Is(err, graph.ErrNoGraphviz) || !strings.Contains(err.Error(), "graphviz package") {
		t.Errorf("RenderSVG without dot: %v", err)
	}
}

func TestMermaidRoundTrip(t *testing.T) {
	g := sample(t)
	g.Annotate("example.com/c", graph.Vulnerable, "GO-1")
	g.Annotate("example.com/a", graph.Denied, "blocked")
	g.Modules["example.com/b"].Version = `v1.0.0-"odd"<x>#&`
	var out bytes.Buffer
	if err := graph.WriteMermaid(&out, g); err != nil {
		t.Fatal(err)
	}
	mm, err := graph.ParseMermaid(&out)
	if err != nil {
		t.Fatalf("ParseMermaid: %v\n%s", err, out.String())
	}
	byPath := map[string]string{}
	for id, lab := range mm.Nodes {
		first, _, _ := strings.Cut(lab, "\n")
		byPath[first] = id
	}
	if len(byPath) != len(g.Modules) {
		t.Fatalf("nodes = %v", mm.Nodes)
	}
	if lab := mm.Nodes[byPath["example.com/b"]]; !strings.Contains(lab, `v1.0.0-"odd"<x>#&`) {
		t.Errorf("label did not round-trip: %q", lab)
	}
	var got, want []string
	for _, e := range mm.Edges {
		got = append(got, strings.SplitN(mm.Nodes[e.From], "\n", 2)[0]+">"+strings.SplitN(mm.Nodes[e.To], "\n", 2)[0]+" "+e.Label)
	}
	for _, e := range g.SelectedEdges() {
		lab := ""
		if e.Requested != g.Modules[e.To].Version {
			lab = e.Requested
		}
		want = append(want, e.From+">"+e.To+" "+lab)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("edges = %q, want %q", got, want)
	}
	for path, class := range map[string]string{"example.com/main": "main", "example.com/a": "denied", "example.com/c": "vulnerable", "example.com/b": "replaced", "example.com/d": "replaced"} {
		if got := mm.Classes[byPath[path]]; got != class {
			t.Errorf("class of %s = %q, want %q", path, got, class)
		}
	}
}

func TestParseMermaidRejects(t *testing.T) {
	for _, src := range []string{
		"",
		"graph LR\n",
		"flowchart LR\n  a --> b\n",
		"flowchart LR\n  a[\"x\"]\n  a[\"y\"]\n",
		"flowchart LR\n  a[\"x<y\"]\n",
		"flowchart LR\n  a[\"x\"]\n  class a nope\n",
		"flowchart LR\n  a[\"x\"]\n  a -> a\n",
	} {
		if _, err := graph.ParseMermaid(strings.NewReader(src)); err == nil {
			t.Errorf("ParseMermaid(%q) succeeded", src)
		}
	}
}

func TestGitHubSnapshot(t *testing.T) {
	g := sample(t)
	s := graph.NewGitHubSnapshot(g, graph.SnapshotOptions{Sha: "abc", Ref: "refs/heads/main", Correlator: "wf_job", JobID: "42", Manifest: "sub/go.mod"})
	var buf bytes.Buffer
	if err := graph.WriteGitHubSnapshot(&buf, s); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   int
		Sha, Ref  string
		Job       struct{ Correlator, ID string }
		Detector  struct{ Name string }
		Scanned   string
		Manifests map[string]struct {
			Name string
			File struct {
				SourceLocation string `json:"source_location"`
			} `json:"file"`
			Resolved map[string]struct {
				PackageURL   string   `json:"package_url"`
				Relationship string   `json:"relationship"`
				Scope        string   `json:"scope"`
				Dependencies []string `json:"dependencies"`
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	m, ok := doc.Manifests["sub/go.mod"]
	if doc.Version != 0 || doc.Sha != "abc" || doc.Job.ID != "42" || doc.Detector.Name != "modgate" || doc.Scanned == "" || !ok || m.File.SourceLocation != "sub/go.mod" {
		t.Fatalf("snapshot = %s", buf.String())
	}
	if len(m.Resolved) != 4 {
		t.Errorf("resolved = %d entries, want 4 (main excluded)", len(m.Resolved))
	}
	a := m.Resolved["example.com/a"]
	if a.PackageURL != "pkg:golang/example.com/a@v1.0.0" || a.Relationship != "direct" || a.Scope != "runtime" ||
		!reflect.DeepEqual(a.Dependencies, []string{"pkg:golang/example.com/c@v1.1.0"}) {
		t.Errorf("a = %+v", a)
	}
	if b := m.Resolved["example.com/b"]; b.PackageURL != "pkg:golang/example.com/bfork@v1.0.1" {
		t.Errorf("b (replaced) = %+v, want the replacement's purl", b)
	}
	if c := m.Resolved["example.com/c"]; c.Relationship != "indirect" {
		t.Errorf("c = %+v", c)
	}
	for _, tc := range [][3]string{
		{"github.com/Foo/bar", "v1.0.0", "pkg:golang/github.com/Foo/bar@v1.0.0"},
		{"example.com/x", "v2.0.0+incompatible", "pkg:golang/example.com/x@v2.0.0%2Bincompatible"},
		{"example.com/a b", "v0.0.0-2024", "pkg:golang/example.com/a%20b@v0.0.0-2024"},
	} {
		if got := graph.PURL(tc[0], tc[1]); got != tc[2] {
			t.Errorf("PURL(%s, %s) = %s, want %s", tc[0], tc[1], got, tc[2])
		}
	}
}

// TestLoadAndDiffFixture loads real graphs with the go command from the
// diff fixture's two commits and compares them.
func TestLoadAndDiffFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	w := checktest.NewWorld(t)
	fx := w.Repo(t, "diff")
	opts := graph.LoadOptions{Go: graph.GoCmd{Env: w.GoEnv}, Env: []string{"GOWORK=off"}}
	cur, err := graph.Load(context.Background(), fx.Dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	old, err := graph.LoadRevision(context.Background(), fx.Dir, fx.Commits[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	if old.Modules["example.com/hello"].Version != "v1.0.0" || cur.Modules["example.com/hello"].Version != "v1.2.0" {
		t.Fatalf("hello: old %+v, cur %+v", old.Modules["example.com/hello"], cur.Modules["example.com/hello"])
	}
	d := graph.Compare(old, cur)
	var got []string
	for _, sec := range []struct {
		name string
		cs   []graph.Change
	}{{"upgraded", d.Upgraded}, {"downgraded", d.Downgraded}, {"added", d.Added}, {"removed", d.Removed}} {
		for _, c := range sec.cs {
			var by []string
			for _, e := range c.By {
				by = append(by, e.From+"@"+e.Requested)
			}
			got = append(got, strings.TrimSpace(fmt.Sprintf("%s %s %s %s by %s", sec.name, c.Path, c.Old, c.New, strings.Join(by, ","))))
		}
	}
	want := make([]string, len(fx.Want))
	for i, ln := range fx.Want {
		want[i] = strings.Join(strings.Fields(ln), " ")
	}
	// added/removed lines have one version: normalise double spaces.
	for i := range got {
		got[i] = strings.Join(strings.Fields(got[i]), " ")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The edge dep -> hello@v1.0.0 came in with dep; deprecated's edge
	// from the main module went away.
	hasEdge := func(es []graph.SelectedEdge, from, to, req string) bool {
		for _, e := range es {
			if e.From == from && e.To == to && e.Requested == req {
				return true
			}
		}
		return false
	}
	if !hasEdge(d.AddedEdges, "example.com/dep", "example.com/hello", "v1.0.0") || !hasEdge(d.RemovedEdges, "example.com/diff", "example.com/deprecated", "v1.0.0") {
		t.Errorf("edges added %v, removed %v", d.AddedEdges, d.RemovedEdges)
	}
	var text, mm, md bytes.Buffer
	graph.WriteDiffText(&text, d)
	for _, s := range []string{"↑ example.com/hello v1.0.0 → v1.2.0", "+ example.com/dep@v1.0.0", "- example.com/deprecated@v1.0.0", "↓ example.com/vulnlib v1.1.0 → v1.0.1"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("diff text lacks %q:\n%s", s, text.String())
		}
	}
	if err := graph.WriteDiffMermaid(&mm, d, old, cur); err != nil {
		t.Fatal(err)
	}
	parsed, err := graph.ParseMermaid(&mm)
	if err != nil {
		t.Fatal(err)
	}
	for path, class := range map[string]string{"example.com/hello": "upgraded", "example.com/dep": "added", "example.com/deprecated": "removed", "example.com/vulnlib": "downgraded", "example.com/diff": "main"} {
		if id := parsed.NodeByLabelPrefix(path); id == "" || parsed.Classes[id] != class {
			t.Errorf("diff Mermaid: %s has class %q, want %q", path, parsed.Classes[id], class)
		}
	}
	if err := graph.WriteDiffMarkdown(&md, d, old, cur); err != nil || !strings.Contains(md.String(), "| upgraded | `example.com/hello` | v1.0.0 | v1.2.0 |") {
		t.Errorf("diff Markdown (%v):\n%s", err, md.String())
	}
	// Identical revisions: no changes.
	if d := graph.Compare(cur, cur); !d.Empty() {
		t.Errorf("Compare(g, g) = %+v", d)
	}
	if _, err := graph.LoadRevision(context.Background(), fx.Dir, "no-such-rev", opts); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("LoadRevision(bad rev): %v", err)
	}
}

// synthetic returns a layered graph with n nodes and about e edges.
func synthetic(n, e int) *graph.Graph {
	mods := []*graph.Module{{Path: "example.com/main", Main: true}}
	for i := 1; i < n; i++ {
		mods = append(mods, &graph.Module{Path: fmt.Sprintf("example.com/m%03d", i), Version: fmt.Sprintf("v1.%d.0", i%7)})
	}
	var edges []graph.Edge
	for k := 0; len(edges) < e; k++ {
		from := k % n
		to := from + 1 + (k*7)%13
		if to >= n {
			continue
		}
		edges = append(edges, graph.Edge{From: graph.ModVer{Path: mods[from].Path, Version: mods[from].Version}, To: graph.ModVer{Path: mods[to].Path, Version: mods[to].Version}})
	}
	g := graph.New(mods, edges)
	for i := 3; i < n; i += 17 {
		g.Annotate(mods[i].Path, graph.Vulnerable, "GO-X")
	}
	return g
}

func TestSyntheticSize(t *testing.T) {
	g := synthetic(200, 600)
	if n := len(g.SelectedEdges()); n < 550 {
		t.Fatalf("synthetic graph has %d distinct edges", n)
	}
	var out bytes.Buffer
	if err := graph.WriteMermaid(&out, g); err != nil {
		t.Fatal(err)
	}
	if _, err := graph.ParseMermaid(&out); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRender600 renders a 600-edge graph (target: < 200 ms).
func BenchmarkRender600(b *testing.B) {
	g := synthetic(200, 600)
	b.Logf("%d nodes, %d edges", len(g.Modules), len(g.SelectedEdges()))
	for _, f := range []struct {
		name string
		fn   func(*bytes.Buffer, *graph.Graph) error
	}{
		{"mermaid", func(w *bytes.Buffer, g *graph.Graph) error { return graph.WriteMermaid(w, g) }},
		{"dot", func(w *bytes.Buffer, g *graph.Graph) error { return graph.WriteDOT(w, g) }},
		{"json", func(w *bytes.Buffer, g *graph.Graph) error { return graph.WriteJSON(w, g) }},
	} {
		b.Run(f.name, func(b *testing.B) {
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := f.fn(&buf, g); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("why", func(b *testing.B) {
		for b.Loop() {
			g.Why("example.com/m199", 100)
		}
	})
}
