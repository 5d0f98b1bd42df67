// Package checktest builds the hermetic world that tests of `modgate
// check` and `modgate graph` run in: the fixture module upstream with its
// checksum database, a modgate proxy in front of it for the go command, a
// second modgate with a test policy for the decision API, a vulnerability
// database file tree, and fixture repositories (testdata/check/repos)
// created as git repositories in temporary directories.
package checktest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/semver"
	"golang.org/x/tools/txtar"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/gatetest"
	"github.com/modgate/modgate/proxy/proxytest"
	"github.com/modgate/modgate/scanner/vulndb"
)

// World is the hermetic environment of one test.
type World struct {
	Up *proxytest.Upstream
	// Gate allows everything: it is GOPROXY for the go command.
	Gate *gatetest.Gate
	// PolicyGate runs [Decider]; its URL is what --proxy gets.
	PolicyGate *gatetest.Gate
	// GoEnv is the go command's environment (shared module cache).
	GoEnv []string
	// VulnDB is the file:// URL of the vulnerability database, and
	// VulnSnapshot the same database loaded.
	VulnDB       string
	VulnSnapshot *vulndb.Snapshot
	// Testdata is the repository's testdata/check directory.
	Testdata string
}

// NewWorld starts the servers (closed in t.Cleanup) and builds the
// vulnerability database.
func NewWorld(t testing.TB) *World {
	t.Helper()
	td := Testdata(t)
	extra, err := proxytest.LoadDir(filepath.Join(td, "modules"))
	if err != nil {
		t.Fatal(err)
	}
	up := proxytest.New(t, append(proxytest.Fixtures(t), extra...))
	w := &World{Up: up, Gate: gatetest.Start(t, up, nil), PolicyGate: gatetest.Start(t, up, Decider{}.Decide), Testdata: td}
	w.GoEnv = w.Gate.GoEnv(t)
	l := &vulndb.Loader{Config: vulndb.Config{Source: vulndb.SourceNone, Extra: []string{filepath.Join(td, "osv")}}}
	s, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Build(dir); err != nil {
		t.Fatal(err)
	}
	w.VulnDB = "file://" + filepath.ToSlash(dir)
	w.VulnSnapshot = s
	return w
}

// Testdata returns the absolute testdata/check directory.
func Testdata(t testing.TB) string {
	t.Helper()
	mods, err := proxytest.FixtureDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(filepath.Dir(mods), "check")
}

// Decider is the test policy: example.com/hello before v1.1.0 is denied
// (rule "blocked"), example.com/dep is warned (rule "cooldown"), and
// example.com/deprecated gets an audit finding (rule "deprecated").
type Decider struct{}

// Decide implements proxy.Decider.
func (Decider) Decide(_ context.Context, q proxy.Query) (proxy.Decision, error) {
	var d proxy.Decision
	switch q.Module {
	case "example.com/hello":
		if semver.Compare(q.Version, "v1.1.0") < 0 {
			d.Deny = append(d.Deny, proxy.Violation{Rule: "blocked", Msg: "example.com/hello before v1.1.0 is blocked: it greets without punctuation", Fix: "upgrade example.com/hello to v1.1.0"})
		}
	case "example.com/dep":
		d.Warn = append(d.Warn, proxy.Violation{Rule: "cooldown", Msg: "example.com/dep@" + q.Version + " is younger than the cooldown"})
	case "example.com/deprecated":
		d.Audit = append(d.Audit, proxy.Violation{Rule: "deprecated", Msg: "example.com/deprecated is deprecated"})
	}
	return d, nil
}

// Fixture is a repository made from testdata/check/repos/NAME.txtar.
type Fixture struct {
	Name string
	// Dir is the repository (a git work tree at the fixture's last
	// commit).
	Dir string
	// Header holds the txtar comment's key: value lines.
	Header map[string]string
	// Want are the expected finding lines; Exit the expected exit code.
	Want []string
	Exit int
	// Commits are the commit hashes, oldest first.
	Commits []string
}

// Fixtures lists the repository fixture names.
func Fixtures(t testing.TB) []string {
	t.Helper()
	ms, err := filepath.Glob(filepath.Join(Testdata(t), "repos", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".txtar"))
	}
	return names
}

// Repo creates the fixture repository name in a temporary directory.
func (w *World) Repo(t testing.TB, name string) *Fixture {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join(w.Testdata, "repos", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	f := &Fixture{Name: name, Dir: t.TempDir(), Header: map[string]string{}}
	for _, ln := range strings.Split(string(ar.Comment), "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		k, v, ok := strings.Cut(ln, ":")
		if !ok {
			t.Fatalf("%s: bad header line %q", name, ln)
		}
		f.Header[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	var overlay, second []txtar.File
	for _, file := range ar.Files {
		switch {
		case file.Name == "want":
			for _, ln := range strings.Split(strings.TrimSpace(string(file.Data)), "\n") {
				ln = strings.TrimSpace(ln)
				if n, ok := strings.CutPrefix(ln, "exit "); ok {
					f.Exit, err = strconv.Atoi(n)
					if err != nil {
						t.Fatalf("%s: bad want line %q", name, ln)
					}
				} else if ln != "" {
					f.Want = append(f.Want, ln)
				}
			}
		case strings.HasPrefix(file.Name, "overlay/"):
			overlay = append(overlay, file)
		case strings.HasPrefix(file.Name, "commit2/"):
			second = append(second, file)
		default:
			writeFile(t, f.Dir, file.Name, file.Data)
		}
	}
	w.Git(t, f.Dir, "init", "-q")
	if f.Header["setup"] == "tidy" {
		w.TidyAll(t, f.Dir)
	}
	for _, file := range overlay {
		writeFile(t, f.Dir, strings.TrimPrefix(file.Name, "overlay/"), file.Data)
	}
	f.Commits = append(f.Commits, w.Commit(t, f.Dir, "first"))
	if len(second) > 0 {
		for _, file := range second {
			rel := strings.TrimPrefix(file.Name, "commit2/")
			if strings.TrimSpace(string(file.Data)) == "DELETE" {
				if err := os.Remove(filepath.Join(f.Dir, rel)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			writeFile(t, f.Dir, rel, file.Data)
		}
		if f.Header["setup"] == "tidy" {
			w.TidyAll(t, f.Dir)
		}
		f.Commits = append(f.Commits, w.Commit(t, f.Dir, "second"))
	}
	return f
}

func writeFile(t testing.TB, root, name string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TidyAll runs `go mod tidy` (GOWORK=off) in every module under dir.
func (w *World) TidyAll(t testing.TB, dir string) {
	t.Helper()
	var mods []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			mods = append(mods, filepath.Dir(p))
		}
		return nil
	})
	// Deepest first: a module replacing another by directory needs
	// that one tidy.
	slices.SortFunc(mods, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mods {
		w.Go(t, m, "mod", "tidy")
	}
}

// Go runs the go command in dir with the world's environment and
// GOWORK=off, failing the test on error.
func (w *World) Go(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clip(w.GoEnv), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// Git runs git in dir, failing the test on error.
func (w *World) Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=modgate test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Commit commits every file and returns the commit hash.
func (w *World) Commit(t testing.TB, dir, msg string) string {
	t.Helper()
	w.Git(t, dir, "add", "-A")
	w.Git(t, dir, "commit", "-q", "-m", msg)
	return strings.TrimSpace(w.Git(t, dir, "rev-parse", "HEAD"))
}

// String describes the fixture.
func (f *Fixture) String() string { return fmt.Sprintf("%s (%s)", f.Name, f.Dir) }
