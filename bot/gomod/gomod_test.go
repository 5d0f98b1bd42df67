package gomod

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/modgate/modgate/proxy/proxytest"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, s := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDiscover(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.work":                  "go 1.21\n\nuse (\n\t./app\n\t./lib\n)\n",
		"app/go.mod":               "module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v0.0.0\n",
		"lib/go.mod":               "module example.com/lib\n\ngo 1.21\n",
		"lib/vendor/modules.txt":   "",
		"tools/go.mod":             "module example.com/tools\n\ngo 1.21\n\nrequire example.com/app v0.0.0\n",
		"testdata/x/go.mod":        "module example.com/ignored\n",
		".hidden/go.mod":           "module example.com/hidden\n",
		"app/vendor/m/go.mod":      "module example.com/vendored\n",
		"lib/internal/sub/x.go":    "package sub\n",
		"tools/_scratch/go.mod":    "module example.com/scratch\n",
		"app/nested/deep/main.go":  "package main\n",
		"app/nested/deep/README":   "",
		"lib/internal/sub/README":  "",
		"docs/notes.md":            "",
		"app/nested/deep/other.go": "package main\n",
	})
	r, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range r.Modules {
		s := m.Dir + "=" + m.Path
		if m.InWork {
			s += "+work"
		}
		if m.Vendored {
			s += "+vendor"
		}
		got = append(got, s)
	}
	// Dependency order: lib before app before tools.
	want := "lib=example.com/lib+work+vendor app=example.com/app+work tools=example.com/tools"
	if strings.Join(got, " ") != want {
		t.Errorf("Discover = %s, want %s", strings.Join(got, " "), want)
	}
	if r.GoWork != "go.work" || !r.Local("example.com/lib") || r.Local("example.com/other") {
		t.Errorf("GoWork = %q, Local wrong", r.GoWork)
	}
}

func TestRewriteImports(t *testing.T) {
	root := writeTree(t, map[string]string{
		"main.go":       "package main\n\nimport (\n\t\"fmt\" // print\n\n\th \"example.com/hello\"\n\t\"example.com/hello/sub\"\n\t\"example.com/hellox\"\n)\n\nfunc main() { fmt.Println(h.Greet(), sub.X, hellox.Y) }\n",
		"nested/go.mod": "module example.com/nested\n",
		"nested/n.go":   "package n\n\nimport \"example.com/hello\"\n",
		"broken.go":     "package main\n\nimport \"example.com/hello\"\nfunc {",
	})
	if err := rewriteImports(root, "example.com/hello", "example.com/hello/v2"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "main.go"))
	want := "package main\n\nimport (\n\t\"fmt\" // print\n\n\th \"example.com/hello/v2\"\n\t\"example.com/hello/v2/sub\"\n\t\"example.com/hellox\"\n)\n\nfunc main() { fmt.Println(h.Greet(), sub.X, hellox.Y) }\n"
	if string(data) != want {
		t.Errorf("main.go after rewrite:\n%s\nwant:\n%s", data, want)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "nested", "n.go")); !strings.Contains(string(data), `"example.com/hello"`) {
		t.Errorf("nested module was rewritten: %s", data)
	}
}

func TestDiff(t *testing.T) {
	got := Diff(BuildList{"a": "v1.0.0", "b": "v1.0.0", "c": "v1.0.0"}, BuildList{"a": "v1.1.0", "c": "v1.0.0", "d": "v0.1.0"})
	want := []Change{{Path: "a", From: "v1.0.0", To: "v1.1.0"}, {Path: "b", From: "v1.0.0"}, {Path: "d", To: "v0.1.0"}}
	if len(got) != len(want) {
		t.Fatalf("Diff = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Diff[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDirectiveOlder(t *testing.T) {
	g := func(v string) *modfile.Go { return &modfile.Go{Version: v} }
	tc := func(v string) *modfile.Toolchain { return &modfile.Toolchain{Name: v} }
	for _, tt := range []struct {
		kind string
		goV  *modfile.Go
		tc   *modfile.Toolchain
		to   string
		want bool
	}{
		{KindToolchain, g("1.21"), nil, "go1.22.3", true},
		{KindToolchain, g("1.22.3"), nil, "go1.22.3", false},
		{KindToolchain, g("1.21"), tc("go1.23.0"), "go1.22.3", false},
		{KindToolchain, g("1.21"), tc("go1.22.1"), "go1.22.3", true},
		{KindGo, g("1.21"), nil, "1.22.0", true},
		{KindGo, g("1.22"), nil, "1.22", false},
		{KindGo, g("1.23.1"), nil, "1.22.0", false},
		{KindGo, nil, nil, "1.22.0", true},
	} {
		if got := directiveOlder(tt.kind, tt.goV, tt.tc, tt.to); got != tt.want {
			t.Errorf("directiveOlder(%s, %v, %v, %s) = %v, want %v", tt.kind, tt.goV, tt.tc, tt.to, got, tt.want)
		}
	}
}

func TestUpdateKey(t *testing.T) {
	u := Update{Path: "a", From: "v1.0.0", NewPath: "a", To: "v1.1.0"}
	if got := u.Key(); got != "a@v1.0.0>a@v1.1.0" {
		t.Errorf("Key() = %q (a requirement's key must not change: failure records use it)", got)
	}
	u.Kind = KindTransitive
	if got := u.Key(); got != "transitive:a@v1.0.0>a@v1.1.0" {
		t.Errorf("transitive Key() = %q", got)
	}
	tcu := Update{Path: ToolchainPath, From: "go1.22.1", NewPath: ToolchainPath, To: "go1.22.3", Kind: KindToolchain}
	if got := tcu.String(); got != "toolchain go1.22.1 -> go1.22.3" {
		t.Errorf("String() = %q", got)
	}
}

// TestApplyDirectivesAndVerify runs the real go command offline on a
// workspace without dependencies: toolchain and go directive updates
// edit every go.mod and go.work that is older, and verification builds a
// main package without leaving its executable in the checkout.
func TestApplyDirectivesAndVerify(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is required: %v", err)
	}
	root := writeTree(t, map[string]string{
		"go.work":     "go 1.21\n\nuse (\n\t./app\n\t./lib\n)\n",
		"app/go.mod":  "module example.com/app\n\ngo 1.21\n",
		"app/main.go": "package main\n\nfunc main() {}\n",
		"lib/go.mod":  "module example.com/lib\n\ngo 1.23.0\n\ntoolchain go1.24.0\n",
		"lib/lib.go":  "package lib\n",
	})
	r, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	g := &Go{Env: proxytest.GoEnvFor(t, "off", "off")}
	ctx := context.Background()
	err = g.Apply(ctx, r, []Update{
		{Path: ToolchainPath, From: "go1.21", NewPath: ToolchainPath, To: "go1.23.4", Kind: KindToolchain},
		{Path: "go", From: "1.21", NewPath: "go", To: "1.22.0", Kind: KindGo},
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string][]string{
		"app/go.mod": {"go 1.22.0", "toolchain go1.23.4"},
		"lib/go.mod": {"go 1.23.0", "toolchain go1.24.0"}, // newer already
		"go.work":    {"go 1.23.0", "toolchain go1.23.4"}, // go work sync: at least every module's
	} {
		data, _ := os.ReadFile(filepath.Join(root, f))
		for _, w := range want {
			if !strings.Contains(string(data), w) {
				t.Errorf("%s lacks %q:\n%s", f, w, data)
			}
		}
	}
	r, err = Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := g.Verify(ctx, r, false)
	if err != nil {
		t.Fatalf("Verify: %v (steps %+v)", err, steps)
	}
	if _, err := os.Stat(filepath.Join(root, "app", "app")); err == nil {
		t.Error("go build left the executable in the checkout")
	}
}
