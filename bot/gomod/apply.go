package gomod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"go/version"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// Update changes one requirement from Path@From to NewPath@To. NewPath
// differs from Path for a new major version (example.com/m ->
// example.com/m/v2); then imports are rewritten too.
type Update struct {
	Path, From  string
	NewPath, To string
	// Kind says what is updated: a requirement (KindRequire, the zero
	// value), or see [KindTransitive], [KindToolchain] and [KindGo].
	Kind string `json:",omitempty"`
}

// Update kinds.
const (
	KindRequire = ""
	// KindTransitive raises a module of the build list that no go.mod
	// requires directly: it is added as a requirement (go get) in every
	// module whose build list holds it at an older version.
	KindTransitive = "transitive"
	// KindToolchain updates the toolchain directive of every go.mod (and
	// go.work) whose toolchain, or go line where it has none, is older:
	// Path and NewPath are [ToolchainPath], versions are "go1.22.3".
	KindToolchain = "toolchain"
	// KindGo raises the go directive of every go.mod (and go.work)
	// whose go line is older: Path and NewPath are "go", versions are
	// "1.22" or "1.22.0".
	KindGo = "go"
)

// ToolchainPath is the module the go command downloads toolchains as;
// toolchain updates name it, so the policy decides them like modules.
const ToolchainPath = "golang.org/toolchain"

// Major reports whether the update moves to another module path.
func (u Update) Major() bool { return u.NewPath != u.Path }

func (u Update) String() string {
	switch {
	case u.Kind == KindToolchain:
		return fmt.Sprintf("toolchain %s -> %s", u.From, u.To)
	case u.Kind == KindGo:
		return fmt.Sprintf("go %s -> %s", u.From, u.To)
	case u.Major():
		return fmt.Sprintf("%s@%s -> %s@%s", u.Path, u.From, u.NewPath, u.To)
	}
	return fmt.Sprintf("%s %s -> %s", u.Path, u.From, u.To)
}

// Key identifies the update in comparisons and failure records.
func (u Update) Key() string {
	k := u.Path + "@" + u.From + ">" + u.NewPath + "@" + u.To
	if u.Kind != "" {
		k = u.Kind + ":" + k
	}
	return k
}

// Go runs the go command.
type Go struct {
	// Env is the environment of every go command (GOPROXY pointing at
	// modgate, GOSUMDB, GOFLAGS, caches). GOWORK is overridden per
	// command.
	Env []string
	// Timeout bounds one go command; zero means 10 minutes.
	Timeout time.Duration
}

// StepError is a failed step of applying or verifying an update.
type StepError struct {
	Step string // e.g. "go build -mod=readonly ./..."
	Dir  string // module directory, "." for the root
	// Output is the command's combined output, trimmed.
	Output string
	Err    error
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("%s (in %s): %v", e.Step, e.Dir, e.Err)
	if e.Output != "" {
		s += ": " + e.Output
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// Step is one verification step's outcome, for the pull request body.
type Step struct {
	Name     string
	Dir      string
	OK       bool
	Duration time.Duration
}

func (g *Go) run(ctx context.Context, r *Repo, m *Module, dir string, args ...string) (string, error) {
	timeout := g.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = filepath.Join(r.Root, filepath.FromSlash(dir))
	gowork := "off"
	if m != nil && m.InWork && r.GoWork != "" {
		gowork = filepath.Join(r.Root, r.GoWork)
	}
	cmd.Env = append(slices.Clone(g.Env), "GOWORK="+gowork)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		// Sandbox paths differ per run; reports must not.
		text := strings.ReplaceAll(out.String(), r.Root+string(filepath.Separator), "")
		text = strings.ReplaceAll(text, r.Root, ".")
		return out.String(), &StepError{Step: "go " + strings.Join(args, " "), Dir: dir, Output: trimOutput(text), Err: err}
	}
	return out.String(), nil
}

// trimOutput keeps the end of long output, where the go command puts the
// error that matters.
func trimOutput(s string) string {
	s = strings.TrimSpace(s)
	const max = 2000
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}

// Sandbox copies the checkout at src (including .git) to a new directory
// under parent and discovers its modules.
func Sandbox(ctx context.Context, src, parent string) (*Repo, error) {
	dst, err := os.MkdirTemp(parent, "sandbox-")
	if err != nil {
		return nil, err
	}
	// cp -a keeps modes and symlinks exactly as git checked them out.
	if out, err := exec.CommandContext(ctx, "cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("copy checkout to sandbox: %v: %s", err, out)
	}
	return Discover(dst)
}

// Apply applies updates to every module of r that requires them and
// brings the repository back to a tidy state. It returns the first
// failing step as a *StepError.
func (g *Go) Apply(ctx context.Context, r *Repo, updates []Update) error {
	if err := g.applyDirectives(ctx, r, updates); err != nil {
		return err
	}
	for _, m := range r.Modules {
		var args []string
		for _, u := range updates {
			switch u.Kind {
			case KindToolchain, KindGo:
				continue
			case KindTransitive:
				if !requires(m, u.Path) {
					v, err := g.selected(ctx, r, m, u.Path)
					if err != nil {
						return err
					}
					if v == "" || semver.Compare(v, u.To) >= 0 {
						continue
					}
				}
			default:
				if !requires(m, u.Path) {
					continue
				}
			}
			if u.Major() {
				if err := rewriteImports(filepath.Join(r.Root, filepath.FromSlash(m.Dir)), u.Path, u.NewPath); err != nil {
					return &StepError{Step: "rewrite imports " + u.Path + " -> " + u.NewPath, Dir: m.Dir, Err: err}
				}
				if r := dropRequire(m, u.Path); r != nil {
					return &StepError{Step: "drop requirement " + u.Path, Dir: m.Dir, Err: r}
				}
			}
			args = append(args, u.NewPath+"@"+u.To)
		}
		if len(args) == 0 {
			continue
		}
		if _, err := g.run(ctx, r, m, m.Dir, append([]string{"get"}, args...)...); err != nil {
			return err
		}
	}
	if r.GoWork != "" {
		if _, err := g.run(ctx, r, &Module{InWork: true}, ".", "work", "sync"); err != nil {
			return err
		}
	}
	// Tidy in dependency order, so a module's dependents see its final
	// requirements.
	for _, m := range r.Modules {
		if _, err := g.run(ctx, r, nil, m.Dir, "mod", "tidy"); err != nil {
			return err
		}
	}
	for _, m := range r.Modules {
		if m.Vendored {
			if _, err := g.run(ctx, r, nil, m.Dir, "mod", "vendor"); err != nil {
				return err
			}
		}
	}
	return nil
}

// selected returns the version of path in m's build list, or "" when it
// is not in it.
func (g *Go) selected(ctx context.Context, r *Repo, m *Module, path string) (string, error) {
	bl, err := g.moduleBuildList(ctx, r, m)
	if err != nil {
		return "", err
	}
	return bl[path], nil
}

// applyDirectives applies toolchain and go directive updates with go mod
// edit (and go work edit), leaving files already at or above the target
// alone. The go line of go.work is raised with the modules', as the go
// command requires it to be at least theirs.
func (g *Go) applyDirectives(ctx context.Context, r *Repo, updates []Update) error {
	for _, u := range updates {
		var flag string
		switch u.Kind {
		case KindToolchain:
			flag = "-toolchain=" + u.To
		case KindGo:
			flag = "-go=" + u.To
		default:
			continue
		}
		for _, m := range r.Modules {
			if !directiveOlder(u.Kind, m.File.Go, m.File.Toolchain, u.To) {
				continue
			}
			if _, err := g.run(ctx, r, nil, m.Dir, "mod", "edit", flag); err != nil {
				return err
			}
		}
		if r.GoWork != "" {
			data, err := os.ReadFile(filepath.Join(r.Root, r.GoWork))
			if err != nil {
				return err
			}
			wf, err := modfile.ParseWork(r.GoWork, data, nil)
			if err != nil {
				return err
			}
			if directiveOlder(u.Kind, wf.Go, wf.Toolchain, u.To) {
				if _, err := g.run(ctx, r, &Module{InWork: true}, ".", "work", "edit", flag); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// directiveOlder reports whether a file with go line goLine and
// toolchain line tc is older than to for the update kind.
func directiveOlder(kind string, goLine *modfile.Go, tc *modfile.Toolchain, to string) bool {
	cur := ""
	if goLine != nil {
		cur = goLine.Version
	}
	if kind == KindToolchain {
		cur = "go" + cur
		if tc != nil {
			cur = tc.Name
		}
		return version.Compare(cur, to) < 0
	}
	return cur == "" || version.Compare("go"+cur, "go"+to) < 0
}

// Verify checks the applied repository the way its CI would: every
// module tidy (go mod tidy -diff), a build that may not change go.mod,
// go mod verify, and go test when tests is set. It returns the steps run
// and the first failure as a *StepError.
func (g *Go) Verify(ctx context.Context, r *Repo, tests bool) ([]Step, error) {
	var steps []Step
	do := func(m *Module, gw *Module, name string, args ...string) error {
		start := time.Now()
		_, err := g.run(ctx, r, gw, m.Dir, args...)
		steps = append(steps, Step{Name: name, Dir: m.Dir, OK: err == nil, Duration: time.Since(start)})
		var se *StepError
		if errors.As(err, &se) {
			se.Step = name // without the temporary output directory
		}
		return err
	}
	for _, m := range r.Modules {
		if err := do(m, nil, "go mod tidy -diff", "mod", "tidy", "-diff"); err != nil {
			return steps, err
		}
	}
	for _, m := range r.Modules {
		mode := "-mod=readonly"
		if m.Vendored && !m.InWork {
			mode = "-mod=vendor" // also checks vendor/modules.txt against go.mod
		}
		// -o: an executable built in the checkout would be committed.
		if err := do(m, m, "go build "+mode+" ./...", "build", mode, "-o", os.DevNull, "./..."); err != nil {
			return steps, err
		}
		if err := do(m, m, "go mod verify", "mod", "verify"); err != nil {
			return steps, err
		}
		if tests {
			if err := do(m, m, "go test ./...", "test", mode, "./..."); err != nil {
				return steps, err
			}
		}
	}
	return steps, nil
}

func requires(m *Module, path string) bool {
	for _, r := range m.File.Require {
		if r.Mod.Path == path {
			return true
		}
	}
	return false
}

// dropRequire removes path's requirement from m's go.mod (after a move to
// a new major version the old path is usually unused; tidy adds it back
// if it is not).
func dropRequire(m *Module, path string) error {
	if err := m.File.DropRequire(path); err != nil {
		return err
	}
	m.File.Cleanup()
	data, err := m.File.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(m.File.Syntax.Name, data, 0o666)
}

// rewriteImports changes imports of oldPath (and its packages) to
// newPath in the .go files of the module rooted at dir, leaving nested
// modules and vendor/ alone. Only the import path literals are edited, so
// formatting and comments are kept.
func rewriteImports(dir, oldPath, newPath string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir {
				if skipDir(d.Name()) {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, src, parser.ImportsOnly)
		if err != nil {
			return nil // not our business: the build reports broken files
		}
		var out bytes.Buffer
		last := 0
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil || (ip != oldPath && !strings.HasPrefix(ip, oldPath+"/")) {
				continue
			}
			start := fset.Position(imp.Path.Pos()).Offset
			end := fset.Position(imp.Path.End()).Offset
			out.Write(src[last:start])
			out.WriteString(strconv.Quote(newPath + strings.TrimPrefix(ip, oldPath)))
			last = end
		}
		if last == 0 {
			return nil
		}
		out.Write(src[last:])
		return os.WriteFile(p, out.Bytes(), 0o666)
	})
}

// ModuleVersion is one entry of a build list.
type ModuleVersion struct {
	Path, Version string
}

// BuildList maps module path to the selected version (main modules and
// directory replacements excluded).
type BuildList map[string]string

// BuildList returns the union of the build lists of r's modules (each
// listed in the mode it is built in), with the highest version of each
// path. A module whose build list cannot be loaded read-only (a stale
// go.sum) is loaded with -mod=mod: this is how the bot learns the
// starting point, not a verification.
func (g *Go) BuildList(ctx context.Context, r *Repo) (BuildList, error) {
	bls, err := g.BuildLists(ctx, r)
	if err != nil {
		return nil, err
	}
	bl := BuildList{}
	for _, m := range r.Modules {
		for p, v := range bls[m.Dir] {
			if semver.Compare(v, bl[p]) > 0 {
				bl[p] = v
			}
		}
	}
	return bl, nil
}

// BuildLists returns each module's build list, by module directory.
func (g *Go) BuildLists(ctx context.Context, r *Repo) (map[string]BuildList, error) {
	out := map[string]BuildList{}
	for _, m := range r.Modules {
		bl, err := g.moduleBuildList(ctx, r, m)
		if err != nil {
			return nil, err
		}
		out[m.Dir] = bl
	}
	return out, nil
}

func (g *Go) moduleBuildList(ctx context.Context, r *Repo, m *Module) (BuildList, error) {
	const format = `{{if not .Main}}{{$p := .Path}}{{$v := .Version}}{{with .Replace}}{{if .Version}}{{$p = .Path}}{{$v = .Version}}{{else}}{{$v = ""}}{{end}}{{end}}{{if $v}}{{$p}} {{$v}}{{end}}{{end}}`
	out, err := g.run(ctx, r, m, m.Dir, "list", "-m", "-f", format, "all")
	if err != nil {
		out, err = g.run(ctx, r, m, m.Dir, "list", "-mod=mod", "-m", "-f", format, "all")
	}
	if err != nil {
		return nil, err
	}
	bl := BuildList{}
	for _, line := range strings.Split(out, "\n") {
		if p, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			bl[p] = v
		}
	}
	return bl, nil
}

// Change is one difference between two build lists.
type Change struct {
	Path string
	// From is "" for an added module; To is "" for a removed one.
	From, To string
}

// Diff returns the changes from before to after, sorted by path.
func Diff(before, after BuildList) []Change {
	var out []Change
	for p, v := range after {
		if before[p] != v {
			out = append(out, Change{Path: p, From: before[p], To: v})
		}
	}
	for p, v := range before {
		if _, ok := after[p]; !ok {
			out = append(out, Change{Path: p, From: v})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Edge is one requirement of the module graph: From requires To (both
// "path@version", or a bare path for a main module).
type Edge struct{ From, To string }

// Graph returns the module requirement graph of r's modules (go mod
// graph), deduplicated.
func (g *Go) Graph(ctx context.Context, r *Repo) ([]Edge, error) {
	seen := map[Edge]bool{}
	var out []Edge
	for _, m := range r.Modules {
		text, err := g.run(ctx, r, m, m.Dir, "mod", "graph")
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			// A repository module appears as a main module or, seen
			// from another one, at its (often placeholder) required
			// version: draw it once, by path.
			for i, n := range f {
				if p, _, ok := strings.Cut(n, "@"); ok && r.Local(p) {
					f[i] = p
				}
			}
			e := Edge{f[0], f[1]}
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// IsStepError reports whether err is a failed go command (as opposed to
// an environment problem such as a missing go binary).
func IsStepError(err error) bool {
	var se *StepError
	return errors.As(err, &se)
}
