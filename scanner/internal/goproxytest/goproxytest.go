// Package goproxytest is a small hermetic GOPROXY for the scanner tests:
// it serves fixture module versions (built in memory with
// golang.org/x/mod/zip) over the module proxy protocol from an
// httptest.Server, and builds a go command environment pointing at it.
//
// It implements only what the scanner tests need (list, info, mod, zip,
// @latest); proxy/proxytest is the full test upstream for the proxy.
package goproxytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/tools/txtar"
)

// DefaultTime is the .info time of modules without one.
var DefaultTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Module is one module version.
type Module struct {
	Path, Version string
	// Time is the .info time; zero means DefaultTime.
	Time time.Time
	// Files maps slash paths in the module root to contents. A "go.mod"
	// entry is the go.mod file; without one the .mod endpoint serves
	// "module <path>" (as for +incompatible versions).
	Files map[string]string
}

// ParseTxtar reads a module from a txtar archive whose comment has
// "module: PATH", "version: VERSION" and optionally "time: RFC3339"
// lines.
func ParseTxtar(data []byte) (Module, error) {
	ar := txtar.Parse(data)
	var m Module
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "module":
			m.Path = v
		case "version":
			m.Version = v
		case "time":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return m, err
			}
			m.Time = t
		}
	}
	if err := module.Check(m.Path, m.Version); err != nil {
		return m, err
	}
	m.Files = make(map[string]string)
	for _, f := range ar.Files {
		m.Files[f.Name] = string(f.Data)
	}
	return m, nil
}

// LoadDir parses every *.txtar file in dir.
func LoadDir(t testing.TB, dir string) []Module {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	var mods []Module
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseTxtar(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mods = append(mods, m)
	}
	return mods
}

// Server serves modules over the GOPROXY protocol.
type Server struct {
	*httptest.Server

	mu   sync.Mutex // guards mods and zips
	mods map[string]map[string]Module
	zips map[string][]byte // path@version -> zip
	// Requests counts requests by URL path.
	reqs map[string]int
}

// New starts a server with mods, closed at test cleanup.
func New(t testing.TB, mods ...Module) *Server {
	t.Helper()
	s := &Server{mods: make(map[string]map[string]Module), zips: make(map[string][]byte), reqs: make(map[string]int)}
	for _, m := range mods {
		if err := s.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// Add adds (or replaces) a module version; its zip is built now.
func (s *Server) Add(m Module) error {
	if err := module.Check(m.Path, m.Version); err != nil {
		return err
	}
	if m.Time.IsZero() {
		m.Time = DefaultTime
	}
	z, err := BuildZip(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mods[m.Path] == nil {
		s.mods[m.Path] = make(map[string]Module)
	}
	s.mods[m.Path][m.Version] = m
	s.zips[m.Path+"@"+m.Version] = z
	return nil
}

// Requests returns how often path (e.g. "/golang.org/x/vulndb/@latest")
// was requested.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[path]
}

type memFile struct {
	path string
	data []byte
}

func (f memFile) Path() string { return f.path }
func (f memFile) Lstat() (os.FileInfo, error) {
	return fileInfo{name: filepath.Base(f.path), size: int64(len(f.data))}, nil
}
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type fileInfo struct {
	name string
	size int64
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) Mode() os.FileMode  { return 0o644 }
func (fi fileInfo) ModTime() time.Time { return DefaultTime }
func (fi fileInfo) IsDir() bool        { return false }
func (fi fileInfo) Sys() any           { return nil }

// BuildZip returns the module zip of m.
func BuildZip(m Module) ([]byte, error) {
	var files []modzip.File
	for name, data := range m.Files {
		files = append(files, memFile{path: name, data: []byte(data)})
	}
	var buf bytes.Buffer
	if err := modzip.Create(&buf, module.Version{Path: m.Path, Version: m.Version}, files); err != nil {
		return nil, fmt.Errorf("%s@%s: %w", m.Path, m.Version, err)
	}
	return buf.Bytes(), nil
}

// ServeHTTP implements the GOPROXY protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs[r.URL.Path]++
	s.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/")
	if esc, ok := strings.CutSuffix(p, "/@latest"); ok {
		path, err := module.UnescapePath(esc)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		m, ok := s.latest(path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		writeInfo(w, m)
		return
	}
	esc, file, ok := strings.Cut(p, "/@v/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	path, err := module.UnescapePath(esc)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if file == "list" {
		s.mu.Lock()
		var vs []string
		for v := range s.mods[path] {
			vs = append(vs, v)
		}
		s.mu.Unlock()
		semver.Sort(vs)
		if len(vs) == 0 {
			http.NotFound(w, r)
			return
		}
		for _, v := range vs {
			fmt.Fprintln(w, v)
		}
		return
	}
	dot := strings.LastIndex(file, ".")
	if dot < 0 {
		http.NotFound(w, r)
		return
	}
	version, err := module.UnescapeVersion(file[:dot])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	m, ok := s.mods[path][version]
	z := s.zips[path+"@"+version]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch file[dot:] {
	case ".info":
		writeInfo(w, m)
	case ".mod":
		if gm, ok := m.Files["go.mod"]; ok {
			io.WriteString(w, gm)
		} else {
			fmt.Fprintf(w, "module %s\n", path)
		}
	case ".zip":
		w.Header().Set("Content-Type", "application/zip")
		w.Write(z)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) latest(path string) (Module, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best Module
	found := false
	for v, m := range s.mods[path] {
		if !found || semver.Compare(v, best.Version) > 0 {
			best, found = m, true
		}
	}
	return best, found
}

func writeInfo(w http.ResponseWriter, m Module) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Version string
		Time    time.Time
	}{m.Version, m.Time})
}

// GoEnv returns an environment for the go command that resolves modules
// only through s: a private module cache, no checksum database, no
// toolchain switching and no VCS. The build cache is shared with the
// caller's for speed.
func (s *Server) GoEnv(t testing.TB) []string {
	t.Helper()
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	tmp := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"GOCACHE=" + strings.TrimSpace(string(gocache)),
		"GOPATH=" + filepath.Join(tmp, "gopath"),
		"GOMODCACHE=" + filepath.Join(tmp, "modcache"),
		"GOFLAGS=-modcacherw -mod=mod",
		"GOPROXY=" + s.URL,
		"GOSUMDB=off",
		"GONOSUMDB=",
		"GOPRIVATE=",
		"GONOPROXY=",
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GO111MODULE=on",
		"GOTELEMETRY=off",
		"CGO_ENABLED=0",
		"GOENV=off",
	}
}
