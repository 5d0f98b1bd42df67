package proxytest

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/tools/txtar"
)

// defaultTime is the .info Time of a module that sets none.
var defaultTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Module is one fixture module version.
type Module struct {
	// Path is the decoded module path, e.g. "example.com/Upper/Case".
	Path string
	// Version is the canonical semantic version, e.g. "v1.2.0" or a
	// pseudo-version.
	Version string
	// Time is the .info Time. Zero means 2024-01-01T00:00:00Z.
	Time time.Time
	// GoMod is the go.mod file. Nil means the module has no go.mod: the
	// zip holds none and the .mod endpoint serves the synthesized
	// "module <path>\n", as the go command expects for such modules.
	GoMod []byte
	// Files are the files of the module root other than go.mod, keyed by
	// slash-separated path relative to the root.
	Files map[string]string
	// Queries are extra names (a branch such as "master", a commit prefix)
	// that resolve to this version through the .info endpoint only.
	Queries []string
	// Origin, if non-nil, is served as the .info Origin field.
	Origin *Origin
	// ZipFile, if set, is the path of a prebuilt module zip used instead
	// of building one from Files (see [LargeModule]). It must be valid per
	// golang.org/x/mod/zip.
	ZipFile string
	// NoSumDB keeps the module out of the checksum database: lookups for
	// it answer 404, like a private module would.
	NoSumDB bool
}

// Origin is the .info Origin field: where the module version came from.
// Only non-empty fields are served.
type Origin struct {
	VCS    string `json:",omitempty"`
	URL    string `json:",omitempty"`
	Subdir string `json:",omitempty"`
	Hash   string `json:",omitempty"`
	Ref    string `json:",omitempty"`
}

// String returns "path@version".
func (m Module) String() string { return m.Path + "@" + m.Version }

// modFile returns the go.mod content the proxy serves for m.
func (m Module) modFile() []byte {
	if m.GoMod == nil {
		return []byte("module " + modfile.AutoQuote(m.Path) + "\n")
	}
	return m.GoMod
}

// check validates m's path, version and go.mod before it is served.
func (m Module) check() error {
	if err := module.Check(m.Path, m.Version); err != nil {
		return err
	}
	if module.CanonicalVersion(m.Version) != m.Version {
		return fmt.Errorf("%s: version is not canonical", m)
	}
	if m.GoMod != nil {
		mf, err := modfile.ParseLax("go.mod", m.GoMod, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		if mf.Module == nil || mf.Module.Mod.Path != m.Path {
			return fmt.Errorf("%s: go.mod has no module line for %s", m, m.Path)
		}
	}
	if _, ok := m.Files["go.mod"]; ok {
		return fmt.Errorf("%s: Files must not contain go.mod; use GoMod", m)
	}
	for _, q := range m.Queries {
		if q == "" || strings.ContainsAny(q, "/@ \t\n") {
			return fmt.Errorf("%s: invalid query %q", m, q)
		}
	}
	return nil
}

// LoadDir parses every dir/*.txtar fixture into a Module, sorted by path
// and then by semantic version.
//
// A fixture's comment is a header of "key: value" lines (blank lines and
// lines starting with '#' are ignored):
//
//	module: example.com/hello      (required, decoded path)
//	version: v1.2.0                (required, canonical)
//	time: 2024-02-01T00:00:00Z     (RFC 3339; default 2024-01-01T00:00:00Z)
//	query: master                  (repeatable; see Module.Queries)
//	nogomod: true                  (the module has no go.mod)
//	nosumdb: true                  (keep out of the checksum database)
//	origin-vcs: git                (also origin-url, origin-hash, origin-ref, origin-subdir)
//
// Its files are the module root's files; go.mod is required unless
// nogomod is set.
func LoadDir(dir string) ([]Module, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("load fixtures: no *.txtar files in %s", dir)
	}
	var mods []Module
	seen := make(map[string]string)
	for _, name := range names {
		ar, err := txtar.ParseFile(name)
		if err != nil {
			return nil, err
		}
		m, err := parseArchive(ar)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if prev, ok := seen[m.String()]; ok {
			return nil, fmt.Errorf("%s: %s already defined in %s", name, m, prev)
		}
		seen[m.String()] = name
		mods = append(mods, m)
	}
	sortModules(mods)
	return mods, nil
}

func sortModules(mods []Module) {
	slices.SortFunc(mods, func(a, b Module) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return compareSemver(a.Version, b.Version)
	})
}

func parseArchive(ar *txtar.Archive) (Module, error) {
	m := Module{Time: defaultTime}
	nogomod := false
	origin := Origin{}
	sc := bufio.NewScanner(bytes.NewReader(ar.Comment))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		key, val, ok := strings.Cut(text, ":")
		if !ok {
			return m, fmt.Errorf("header line %d: want \"key: value\", got %q", line, text)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "module":
			m.Path = val
		case "version":
			m.Version = val
		case "time":
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				return m, fmt.Errorf("header line %d: %w", line, err)
			}
			m.Time = t
		case "query":
			m.Queries = append(m.Queries, val)
		case "nogomod", "nosumdb":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return m, fmt.Errorf("header line %d: %s: %w", line, key, err)
			}
			if key == "nogomod" {
				nogomod = b
			} else {
				m.NoSumDB = b
			}
		case "origin-vcs":
			origin.VCS = val
		case "origin-url":
			origin.URL = val
		case "origin-hash":
			origin.Hash = val
		case "origin-ref":
			origin.Ref = val
		case "origin-subdir":
			origin.Subdir = val
		default:
			return m, fmt.Errorf("header line %d: unknown key %q", line, key)
		}
	}
	if m.Path == "" || m.Version == "" {
		return m, fmt.Errorf("header needs both module: and version:")
	}
	if origin != (Origin{}) {
		m.Origin = &origin
	}
	m.Files = make(map[string]string)
	for _, f := range ar.Files {
		if f.Name == "go.mod" {
			if nogomod {
				return m, fmt.Errorf("%s: has go.mod but nogomod is set", m)
			}
			m.GoMod = slices.Clone(f.Data)
			continue
		}
		if _, dup := m.Files[f.Name]; dup {
			return m, fmt.Errorf("%s: duplicate file %s", m, f.Name)
		}
		m.Files[f.Name] = string(f.Data)
	}
	if m.GoMod == nil && !nogomod {
		return m, fmt.Errorf("%s: no go.mod file (set \"nogomod: true\" if intended)", m)
	}
	return m, m.check()
}

// LargeModule returns a module whose zip, written into t.TempDir(), is at
// least size bytes of incompressible data (seeded by path@version, so the
// same arguments give the same zip). The data is streamed, never held in
// memory whole. size must stay below the module zip limit (500 MiB).
func LargeModule(t testing.TB, path, version string, size int64) Module {
	t.Helper()
	m, err := BuildLargeModule(t.TempDir(), path, version, size)
	if err != nil {
		t.Fatalf("proxytest.LargeModule: %v", err)
	}
	return m
}

// BuildLargeModule is [LargeModule] for callers without a testing.TB: it
// writes the zip into dir.
func BuildLargeModule(dir, path, version string, size int64) (Module, error) {
	m := Module{
		Path:    path,
		Version: version,
		Time:    defaultTime,
		GoMod:   []byte("module " + modfile.AutoQuote(path) + "\n\ngo 1.21\n"),
	}
	if err := m.check(); err != nil {
		return m, err
	}
	// Leave room for the go.mod, the Go file and zip framing.
	if size <= 0 || size > modzip.MaxZipFile-(1<<20) {
		return m, fmt.Errorf("%s: large module size %d out of range", m, size)
	}
	h := fnv.New64a()
	io.WriteString(h, m.String())
	seed := h.Sum64()

	files := []modzip.File{
		memFile{name: "go.mod", data: m.GoMod},
		memFile{name: "large.go", data: []byte("// Package large carries a big data file.\npackage large\n")},
		randFile{name: "data/blob.bin", size: size, seed: seed},
	}
	zipPath := filepath.Join(dir, "large-"+strconv.FormatUint(seed, 16)+".zip")
	if err := writeZip(zipPath, m, files); err != nil {
		return m, err
	}
	fi, err := os.Stat(zipPath)
	if err != nil {
		return m, err
	}
	if fi.Size() < size {
		return m, fmt.Errorf("%s: large zip is %d bytes, want >= %d", m, fi.Size(), size)
	}
	m.ZipFile = zipPath
	return m, nil
}

// writeZip creates a module zip at dst via a temporary file and rename,
// so a partially written zip is never visible.
func writeZip(dst string, m Module, files []modzip.File) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(f, 64<<10)
	err = modzip.Create(bw, module.Version{Path: m.Path, Version: m.Version}, files)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	return os.Rename(f.Name(), dst)
}

// zipFiles lists m's files (with go.mod, if any) for modzip.Create.
func zipFiles(m Module) []modzip.File {
	files := make([]modzip.File, 0, len(m.Files)+1)
	if m.GoMod != nil {
		files = append(files, memFile{name: "go.mod", data: m.GoMod})
	}
	for _, name := range sortedKeys(m.Files) {
		files = append(files, memFile{name: name, data: []byte(m.Files[name])})
	}
	return files
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// memFile is an in-memory modzip.File.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (fs.FileInfo, error)  { return fileInfo{f.name, int64(len(f.data))}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

// randFile is a modzip.File of size seeded pseudo-random bytes, generated
// as it is read.
type randFile struct {
	name string
	size int64
	seed uint64
}

func (f randFile) Path() string                { return f.name }
func (f randFile) Lstat() (fs.FileInfo, error) { return fileInfo{f.name, f.size}, nil }
func (f randFile) Open() (io.ReadCloser, error) {
	var seed [32]byte
	for i := range 4 {
		v := f.seed + uint64(i)*0x9e3779b97f4a7c15
		for j := range 8 {
			seed[i*8+j] = byte(v >> (8 * j))
		}
	}
	return io.NopCloser(io.LimitReader(rand.NewChaCha8(seed), f.size)), nil
}

type fileInfo struct {
	name string
	size int64
}

func (fi fileInfo) Name() string       { return filepath.Base(fi.name) }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) Mode() fs.FileMode  { return 0o644 }
func (fi fileInfo) ModTime() time.Time { return time.Time{} }
func (fi fileInfo) IsDir() bool        { return false }
func (fi fileInfo) Sys() any           { return nil }

// FixtureDir returns the repository's testdata/modules directory, found by
// walking up from the working directory (a package directory under
// `go test`) to the go.mod of github.com/modgate/modgate.
func FixtureDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modfile.ModulePath(data) == "github.com/modgate/modgate" {
			return filepath.Join(dir, "testdata", "modules"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("fixture dir: no go.mod for github.com/modgate/modgate above the working directory")
		}
		dir = parent
	}
}

// Fixtures loads the repository's fixture modules (see [FixtureDir] and
// [LoadDir]), failing the test on error.
func Fixtures(t testing.TB) []Module {
	t.Helper()
	dir, err := FixtureDir()
	if err == nil {
		var mods []Module
		if mods, err = LoadDir(dir); err == nil {
			return mods
		}
	}
	t.Fatalf("proxytest.Fixtures: %v", err)
	return nil
}
