// Package checksum owns modgate's trust in module content: it verifies
// module zips and go.mod files against the Go checksum database before the
// proxy caches or serves them, and it proxies the checksum database itself
// (the /sumdb/ endpoints) so go clients can verify through modgate.
//
// The database client is golang.org/x/mod/sumdb's, which verifies signed
// tree heads and tiles (so a lying database or proxy is detected). Its
// configuration and tile cache live in the proxy's storage. Modules whose
// paths match the NoSumDB patterns (GONOSUMDB/GOPRIVATE style) are never
// looked up: their paths must not leak to a public database.
package checksum

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/zip"

	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// DB describes a checksum database as GOSUMDB does.
type DB struct {
	Name string // database name, from the verifier key
	Key  string // verifier key
	// URL is an explicit base URL; empty means "through the upstream's
	// /sumdb/<name>/ endpoint if it supports it, else https://<name>".
	URL string
}

// ParseGOSUMDB parses a GOSUMDB value: "off", "<key>", "<name>" (a name
// whose key the go toolchain knows), or "<key> <url>". It returns a nil DB
// for "off". keyFor resolves a bare name to its verifier key; it may be nil.
func ParseGOSUMDB(v string, keyFor func(name string) string) (*DB, error) {
	v = strings.TrimSpace(v)
	if v == "off" {
		return nil, nil
	}
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return nil, fmt.Errorf("invalid GOSUMDB %q: want \"key\", \"name\" or \"key url\"", v)
	}
	key := f[0]
	if !strings.Contains(key, "+") {
		k := ""
		if keyFor != nil {
			k = keyFor(key)
		}
		if k == "" {
			return nil, fmt.Errorf("invalid GOSUMDB: no verifier key known for %q; give the full key (name+hash+keydata)", key)
		}
		key = k
	}
	verifier, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("invalid GOSUMDB key: %w", err)
	}
	db := &DB{Name: verifier.Name(), Key: key}
	if strings.ContainsAny(db.Name, "/\\ ") || db.Name == "" {
		return nil, fmt.Errorf("invalid GOSUMDB: database name %q must be a host name", db.Name)
	}
	if len(f) == 2 {
		u, err := url.Parse(f[1])
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, fmt.Errorf("invalid GOSUMDB URL %q", f[1])
		}
		db.URL = strings.TrimSuffix(f[1], "/")
	}
	return db, nil
}

var knownKeyRE = regexp.MustCompile(`"([^"]+)":\s*"([^"]+)"`)

// ToolchainKey returns the verifier key the go command has compiled in for
// name, read from the installed toolchain's source (GOROOT), so modgate
// trusts exactly the databases the local go command trusts without
// carrying its own copy of their keys. It returns "" when unknown.
func ToolchainKey(goroot, name string) string {
	data, err := os.ReadFile(filepath.Join(goroot, "src", "cmd", "go", "internal", "modfetch", "key.go"))
	if err != nil {
		return ""
	}
	for _, m := range knownKeyRE.FindAllStringSubmatch(string(data), -1) {
		if m[1] == name && strings.HasPrefix(m[2], name+"+") {
			return m[2]
		}
	}
	return ""
}

// Fetcher fetches escaped paths through the upstream list, retrying
// transient failures; [upstream.Client] implements it.
type Fetcher interface {
	FetchBytes(ctx context.Context, rel string, class upstream.Class, limit int64) ([]byte, error)
}

// Verifier checks module content against a checksum database. It is safe
// for concurrent use. Set the fields, then call methods; fields must not
// change after first use.
type Verifier struct {
	// DB is the checksum database; nil disables database checks (zip
	// structure and go.mod module lines are still checked).
	DB *DB
	// NoSumDB holds comma-separated glob patterns (GONOSUMDB syntax) of
	// module paths never looked up in the database.
	NoSumDB string
	// Upstream is used to reach the database through the upstream's
	// /sumdb/ endpoint when DB.URL is empty.
	Upstream Fetcher
	// HTTP is the client for direct database access; nil means
	// http.DefaultClient.
	HTTP *http.Client
	// Store holds the database client's configuration and tile cache.
	Store storage.Storage
	// Timeout bounds each database request; zero means 30s.
	Timeout time.Duration
	// RetryAfter bounds how long a failed database request is
	// remembered. Zero means 1s.
	RetryAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives database client logs; nil means slog.Default().
	Logger *slog.Logger

	once sync.Once
	ops  *ops

	// mu protects client and failedAt. The sumdb client remembers every
	// answer for its lifetime, failures included, so after a failure it
	// is replaced by a fresh one (the verified tree and the tiles persist
	// in Store, so a new client costs little).
	mu       sync.Mutex
	client   *sumdb.Client
	failedAt time.Time // zero while the current client has not failed
}

func (v *Verifier) init() {
	v.once.Do(func() {
		if v.DB != nil {
			v.ops = newOps(v)
		}
	})
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) retryAfter() time.Duration {
	if v.RetryAfter > 0 {
		return v.RetryAfter
	}
	return time.Second
}

// dbClient returns the database client, replacing one that failed more
// than RetryAfter ago. It returns nil when no database is configured.
func (v *Verifier) dbClient() *sumdb.Client {
	v.init()
	if v.ops == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.client == nil || !v.failedAt.IsZero() && v.now().Sub(v.failedAt) >= v.retryAfter() {
		c := sumdb.NewClient(v.ops)
		// The client must not look up private paths; it enforces the
		// same patterns itself as a second line of defence.
		c.SetGONOSUMDB(v.NoSumDB)
		v.client, v.failedAt = c, time.Time{}
	}
	return v.client
}

// clientFailed notes that c could not reach the database, so that it is
// replaced once RetryAfter has passed.
func (v *Verifier) clientFailed(c *sumdb.Client) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.client == c && v.failedAt.IsZero() {
		v.failedAt = v.now()
	}
}

// Private reports whether path is excluded from database lookups.
func (v *Verifier) Private(path string) bool {
	return v.NoSumDB != "" && module.MatchPrefixPatterns(v.NoSumDB, path)
}

// Error reports content that failed verification.
type Error struct {
	Module, Version string
	File            string // "go.mod" or "zip"
	Got, Want       string // h1 hashes, when the failure is a mismatch
	Err             error
}

func (e *Error) Error() string {
	if e.Got != "" && e.Want != "" {
		return fmt.Sprintf("%s@%s: %s checksum mismatch\n\tdownloaded: %s\n\tchecksum database: %s\nThe upstream served content that differs from what the checksum database recorded; modgate did not cache it.",
			e.Module, e.Version, e.File, e.Got, e.Want)
	}
	return fmt.Sprintf("%s@%s: %s verification failed: %v", e.Module, e.Version, e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrDatabase wraps failures to consult the checksum database (as opposed
// to content that failed verification).
var ErrDatabase = errors.New("checksum database unavailable")

// ModHash returns the go.sum "/go.mod" hash of a go.mod file.
func ModHash(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// CheckMod verifies a go.mod file of path@version: it must parse, declare
// path, and match the database. It returns the file's h1 hash.
func (v *Verifier) CheckMod(ctx context.Context, path, version string, data []byte) (string, error) {
	fail := func(err error) (string, error) {
		return "", &Error{Module: path, Version: version, File: "go.mod", Err: err}
	}
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return fail(err)
	}
	if f.Module == nil {
		return fail(errors.New("no module directive"))
	}
	// An +incompatible version predates modules; its go.mod, if any,
	// may name the path without the major suffix, like the go command
	// accepts.
	if got := f.Module.Mod.Path; got != path && !strings.HasSuffix(version, "+incompatible") {
		return fail(fmt.Errorf("go.mod declares module %q, want %q", got, path))
	}
	h, err := ModHash(data)
	if err != nil {
		return fail(err)
	}
	if err := v.compare(ctx, path, version, "go.mod", h); err != nil {
		return "", err
	}
	return h, nil
}

// CheckZip verifies the module zip at file: its structure per
// golang.org/x/mod/zip and its hash against the database. It returns the
// zip's h1 hash.
func (v *Verifier) CheckZip(ctx context.Context, path, version, file string) (string, error) {
	fail := func(err error) (string, error) {
		return "", &Error{Module: path, Version: version, File: "zip", Err: err}
	}
	cf, err := zip.CheckZip(module.Version{Path: path, Version: version}, file)
	if err != nil {
		return fail(err)
	}
	if err := cf.Err(); err != nil {
		return fail(err)
	}
	h, err := dirhash.HashZip(file, dirhash.Hash1)
	if err != nil {
		return fail(err)
	}
	if err := v.compare(ctx, path, version, "zip", h); err != nil {
		return "", err
	}
	return h, nil
}

func (v *Verifier) compare(ctx context.Context, path, version, file, got string) error {
	v.init()
	if v.ops == nil || v.Private(path) {
		return nil
	}
	want, err := v.Lookup(ctx, path, version, file)
	if err != nil {
		return err
	}
	if got != want {
		return &Error{Module: path, Version: version, File: file, Got: got, Want: want}
	}
	return nil
}

// Lookup returns the database's h1 hash for path@version's zip (file
// "zip") or go.mod (file "go.mod").
func (v *Verifier) Lookup(ctx context.Context, path, version, file string) (string, error) {
	client := v.dbClient()
	if client == nil {
		return "", fmt.Errorf("%s@%s: %w: no database configured", path, version, ErrDatabase)
	}
	want := version
	if file == "go.mod" {
		want += "/go.mod"
	}
	// The client returns only the lines for exactly path and want.
	lines, err := client.Lookup(path, want)
	if err != nil {
		if errors.Is(err, sumdb.ErrSecurity) {
			return "", &Error{Module: path, Version: version, File: file, Err: fmt.Errorf("checksum database security error: %w", err)}
		}
		v.clientFailed(client)
		return "", fmt.Errorf("%s@%s: %w: %v", path, version, ErrDatabase, err)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == path && f[1] == want {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("%s@%s: %w: no %s hash in database answer", path, version, ErrDatabase, file)
}
