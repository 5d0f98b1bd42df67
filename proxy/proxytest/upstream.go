// Package proxytest owns the hermetic module upstream that modgate tests run
// against, in the spirit of net/http/httptest: an HTTP server on 127.0.0.1
// that speaks the Go module proxy protocol ("go help goproxy") for a fixed
// set of fixture modules, plus a real checksum database for them.
//
// Invariants:
//
//   - Every module zip is built once, with golang.org/x/mod/zip, into a
//     temporary directory when the module is added; requests serve the file
//     and never rebuild it.
//   - The checksum database is a genuine golang.org/x/mod/sumdb server
//     (tlog tree, signed notes) whose records hold the real h1: hashes of
//     each zip and go.mod, signed with a key made by note.GenerateKey. The
//     go command verifies against it with GOSUMDB set to [Upstream.GOSUMDB],
//     so content changed in transit (see [FaultTamper]) is detectable.
//   - The database is append-only: [Upstream.Add] appends records, so
//     clients that saw an earlier tree still accept later ones.
//   - Request counters and faults are safe for concurrent use.
//
// Fixture modules live in testdata/modules/*.txtar (see [LoadDir]).
//
// Typical use in a test:
//
//	mods, err := proxytest.LoadDir("../testdata/modules")
//	...
//	u := proxytest.New(t, mods)                 // closed in t.Cleanup
//	u.SetFault("/example.com/hello/@v/v1.2.0.zip", proxytest.FaultTamper)
//	cmd := exec.Command("go", "mod", "download", "example.com/hello@v1.2.0")
//	cmd.Env = u.GoEnv(t, proxyURL)              // proxyURL: u.URL or a modgate in front
//	...
//	n := u.Count("/example.com/hello/@v/v1.2.0.zip")
//
// An [Upstream] is also an http.Handler, so it can be mounted elsewhere.
package proxytest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	modzip "golang.org/x/mod/zip"
)

// DefaultSumDBName is the checksum database name used unless
// [WithSumDBName] says otherwise. It is fictional on purpose.
const DefaultSumDBName = "sum.test.local"

// Upstream is a running hermetic module proxy plus checksum database.
// Create it with [New] (tests) or [Start] (other programs).
type Upstream struct {
	// URL is the proxy base URL, e.g. "http://127.0.0.1:41234", usable as
	// GOPROXY. The checksum database is served under URL/sumdb/SumDBName.
	URL string
	// SumDBName is the checksum database name (DefaultSumDBName unless set).
	SumDBName string
	// SumDBKey is the database's verifier key ("name+hash+key"), the first
	// half of a GOSUMDB value.
	SumDBKey string
	// Server is the underlying test server.
	Server *httptest.Server

	t       testing.TB // nil when built by Start
	cfg     config
	dir     string // zips live here
	ownDir  bool   // dir is removed by Close
	db      *sumdb.TestServer
	dbh     http.Handler
	done    chan struct{} // closed by Close; ends hanging and slow responses
	closeMu sync.Once

	mu      sync.Mutex                   // protects the fields below
	mods    map[string]map[string]*entry // path -> version -> entry
	queries map[string]map[string]string // path -> query -> version
	faults  map[string]faultState        // URL path or "prefix*" -> injected fault
	blocks  map[string]chan struct{}     // URL path -> closed on release
	counts  map[string]int               // URL path -> requests seen
}

// entry is one module version as served.
type entry struct {
	m       Module
	zipPath string
	zipHash string // h1: of the zip
	modHash string // h1: of the served .mod
	mod     []byte // served .mod
	info    []byte // served .info

	tamperOnce sync.Once
	tamperZip  string
	tamperErr  error
}

// Option configures an [Upstream].
type Option func(*config)

type config struct {
	sumDBName     string
	slowChunk     int
	slowInterval  time.Duration
	tamperZipFile string
}

// WithSumDBName names the checksum database (default [DefaultSumDBName]).
func WithSumDBName(name string) Option { return func(c *config) { c.sumDBName = name } }

// WithSlow sets how [FaultSlow] streams a body: chunk bytes every
// interval. The default is 256 bytes every 50ms (about 5 KiB/s).
func WithSlow(chunk int, interval time.Duration) Option {
	return func(c *config) { c.slowChunk, c.slowInterval = chunk, interval }
}

// New starts an Upstream serving mods on 127.0.0.1 and closes it in
// t.Cleanup. Zips are written under t.TempDir(). It calls t.Fatal if a
// module is invalid.
func New(t testing.TB, mods []Module, opts ...Option) *Upstream {
	t.Helper()
	u, err := start(t.TempDir(), false, mods, opts)
	if err != nil {
		t.Fatalf("proxytest.New: %v", err)
	}
	u.t = t
	t.Cleanup(u.Close)
	return u
}

// Start is [New] for callers without a testing.TB (benchmarks, demo
// servers). The caller must call [Upstream.Close], which also removes the
// temporary directory holding the zips.
func Start(mods []Module, opts ...Option) (*Upstream, error) {
	dir, err := os.MkdirTemp("", "proxytest-")
	if err != nil {
		return nil, err
	}
	u, err := start(dir, true, mods, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return u, nil
}

func start(dir string, ownDir bool, mods []Module, opts []Option) (*Upstream, error) {
	cfg := config{sumDBName: DefaultSumDBName, slowChunk: 256, slowInterval: 50 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.slowChunk <= 0 || cfg.slowInterval < 0 {
		return nil, fmt.Errorf("WithSlow(%d, %v): chunk must be > 0 and interval >= 0", cfg.slowChunk, cfg.slowInterval)
	}
	skey, vkey, err := note.GenerateKey(crand.Reader, cfg.sumDBName)
	if err != nil {
		return nil, fmt.Errorf("generate sumdb key %q: %w", cfg.sumDBName, err)
	}
	u := &Upstream{
		SumDBName: cfg.sumDBName,
		SumDBKey:  vkey,
		cfg:       cfg,
		dir:       dir,
		ownDir:    ownDir,
		done:      make(chan struct{}),
		mods:      make(map[string]map[string]*entry),
		queries:   make(map[string]map[string]string),
		faults:    make(map[string]faultState),
		blocks:    make(map[string]chan struct{}),
		counts:    make(map[string]int),
	}
	u.db = sumdb.NewTestServer(skey, u.gosum)
	u.dbh = sumdb.NewServer(u.db)

	sorted := slices.Clone(mods)
	sortModules(sorted)
	for _, m := range sorted {
		if err := u.AddModule(m); err != nil {
			return nil, err
		}
	}
	u.Server = httptest.NewServer(u)
	u.URL = u.Server.URL
	return u, nil
}

// Close stops the server, first releasing requests held by [FaultHang] or
// [FaultSlow]. It is idempotent; [New] registers it with t.Cleanup.
func (u *Upstream) Close() {
	u.closeMu.Do(func() {
		close(u.done)
		if u.Server != nil {
			u.Server.CloseClientConnections()
			u.Server.Close()
		}
		if u.ownDir {
			os.RemoveAll(u.dir)
		}
	})
}

// GOSUMDB returns the GOSUMDB value that makes the go command verify
// against this upstream's checksum database: "<verifierkey> <URL>/sumdb/<name>".
func (u *Upstream) GOSUMDB() string {
	return u.SumDBKey + " " + u.URL + "/sumdb/" + u.SumDBName
}

// Add adds a module version at run time (a new upstream release): list,
// @latest and the checksum database include it from then on. Adding a
// version that exists fails the test (the database is immutable). Call it
// from the test goroutine; use [Upstream.AddModule] elsewhere.
func (u *Upstream) Add(m Module) {
	if err := u.AddModule(m); err != nil {
		if u.t == nil {
			panic("proxytest: " + err.Error())
		}
		u.t.Helper()
		u.t.Fatalf("proxytest.Add: %v", err)
	}
}

// AddModule is [Upstream.Add] returning the error instead.
func (u *Upstream) AddModule(m Module) error {
	if m.Time.IsZero() {
		m.Time = defaultTime
	}
	m.Files = maps.Clone(m.Files)
	m.GoMod = slices.Clone(m.GoMod)
	m.Queries = slices.Clone(m.Queries)
	if err := m.check(); err != nil {
		return err
	}
	u.mu.Lock()
	_, dup := u.mods[m.Path][m.Version]
	u.mu.Unlock()
	if dup {
		return fmt.Errorf("%s: already added", m)
	}

	e := &entry{m: m, mod: m.modFile()}
	escPath, _ := module.EscapePath(m.Path)
	escVer, _ := module.EscapeVersion(m.Version)
	if m.ZipFile != "" {
		e.zipPath = m.ZipFile
	} else {
		e.zipPath = filepath.Join(u.dir, filepath.FromSlash(escPath), "@v", escVer+".zip")
		if err := writeZip(e.zipPath, m, zipFiles(m)); err != nil {
			return err
		}
	}
	cf, err := modzip.CheckZip(module.Version{Path: m.Path, Version: m.Version}, e.zipPath)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		return fmt.Errorf("%s: invalid module zip: %w", m, err)
	}
	if e.zipHash, err = dirhash.HashZip(e.zipPath, dirhash.Hash1); err != nil {
		return fmt.Errorf("%s: hash zip: %w", m, err)
	}
	if e.modHash, err = hashMod(e.mod); err != nil {
		return fmt.Errorf("%s: hash go.mod: %w", m, err)
	}
	if e.info, err = infoJSON(m.Version, m.Time, m.Origin); err != nil {
		return err
	}

	u.mu.Lock()
	if _, dup := u.mods[m.Path][m.Version]; dup {
		u.mu.Unlock()
		return fmt.Errorf("%s: already added", m)
	}
	if u.mods[m.Path] == nil {
		u.mods[m.Path] = make(map[string]*entry)
		u.queries[m.Path] = make(map[string]string)
	}
	u.mods[m.Path][m.Version] = e
	for _, q := range m.Queries {
		u.queries[m.Path][q] = m.Version
	}
	u.mu.Unlock()

	if !m.NoSumDB {
		// Record it now rather than at first lookup, so the tree's
		// order is deterministic and SumDBHash matches a published record.
		if _, err := u.db.Lookup(context.Background(), module.Version{Path: m.Path, Version: m.Version}); err != nil {
			return fmt.Errorf("%s: add to checksum database: %w", m, err)
		}
	}
	return nil
}

// SumDBHash returns the h1: hashes the checksum database records for
// path@version: of the zip and of the go.mod (the go.sum "/go.mod" line).
// Both are "" for unknown versions.
func (u *Upstream) SumDBHash(path, version string) (zipHash, modHash string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e := u.mods[path][version]
	if e == nil {
		return "", ""
	}
	return e.zipHash, e.modHash
}

// GoSumLines returns the two go.sum lines for path@version, or "" for an
// unknown version.
func (u *Upstream) GoSumLines(path, version string) string {
	zh, mh := u.SumDBHash(path, version)
	if zh == "" {
		return ""
	}
	return fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, version, zh, path, version, mh)
}

// ZipPath returns the file the zip of path@version is served from, or ""
// for an unknown version.
func (u *Upstream) ZipPath(path, version string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e := u.mods[path][version]; e != nil {
		return e.zipPath
	}
	return ""
}

// Count reports how many requests hit exactly urlPath (e.g.
// "/example.com/hello/@v/v1.0.0.zip" or "/sumdb/sum.test.local/latest"),
// including faulted ones.
func (u *Upstream) Count(urlPath string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[urlPath]
}

// Counts returns a copy of all request counters, keyed by URL path.
func (u *Upstream) Counts() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.counts)
}

// ResetCounts sets all request counters to zero.
func (u *Upstream) ResetCounts() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.counts)
}

// gosum is the checksum database's source of records: the go.sum lines
// of a known module version.
func (u *Upstream) gosum(path, vers string) ([]byte, error) {
	u.mu.Lock()
	e := u.mods[path][vers]
	u.mu.Unlock()
	if e == nil || e.m.NoSumDB {
		// sumdb.Server maps only os.IsNotExist errors to 404, and that
		// does not unwrap, hence a *fs.PathError.
		return nil, &fs.PathError{Op: "lookup", Path: path + "@" + vers, Err: fs.ErrNotExist}
	}
	return []byte(fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, vers, e.zipHash, path, vers, e.modHash)), nil
}

// hashMod hashes a go.mod the way go.sum's "/go.mod" lines do.
func hashMod(mod []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(mod)), nil
	})
}

type infoJSONType struct {
	Version string
	Time    time.Time
	Origin  *Origin `json:",omitempty"`
}

func infoJSON(version string, t time.Time, origin *Origin) ([]byte, error) {
	b, err := json.Marshal(infoJSONType{Version: version, Time: t.UTC(), Origin: origin})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func compareSemver(a, b string) int { return semver.Compare(a, b) }
