package vulndb

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/errgroup"
)

// ModuleFetcher fetches modules for the "module" source. modgate's facts
// service implements it (facts.Fetcher) over the verified module cache, so
// the database travels the same verified path as every other module and
// its latest version is resolved as the go command resolves it.
//
// Implementations must be safe for concurrent use. Errors should say
// path@version.
type ModuleFetcher interface {
	// Latest returns the latest version of path and its .info time.
	Latest(ctx context.Context, path string) (version string, t time.Time, err error)
	// Zip writes the module zip of path@version to dst.
	Zip(ctx context.Context, path, version string, dst io.Writer) error
}

// Loader loads snapshots from the configured sources. The zero value is
// not usable: Config must be valid and, for the "module" source, Fetcher
// set. A Loader is safe for concurrent use; loads are serialized.
type Loader struct {
	Config Config
	// Fetcher fetches the golang.org/x/vulndb module. Required when the
	// source is "module".
	Fetcher ModuleFetcher
	// HTTPClient reads http(s) sources. Nil means http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Logger receives load diagnostics. Nil means slog.Default().
	Logger *slog.Logger
	// TempDir holds the module zip while it is read. Empty means
	// os.TempDir().
	TempDir string

	mu sync.Mutex // serializes Load and guards the fields below
	// The primary source's entries from the last successful load and
	// the key (module@version, or the database's modified time) they
	// belong to: an unchanged source is not downloaded again.
	primaryKey     string
	primaryEntries []*Entry
	primaryTime    time.Time
}

// httpConcurrency bounds parallel entry downloads from an http(s) source.
const httpConcurrency = 16

func (l *Loader) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Loader) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

func (l *Loader) client() *http.Client {
	if l.HTTPClient != nil {
		return l.HTTPClient
	}
	return http.DefaultClient
}

// Load reads every source and returns a new snapshot. It fails if any
// source fails: a partial database would silently let vulnerable versions
// through, so the caller keeps its previous snapshot instead.
func (l *Loader) Load(ctx context.Context) (*Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.Config.Validate(); err != nil {
		return nil, err
	}
	var (
		entries  []*Entry
		modified time.Time
		descs    []string
	)
	src := l.Config.source()
	if src != SourceNone {
		key, es, t, err := l.loadPrimary(ctx, src)
		if err != nil {
			return nil, err
		}
		l.primaryKey, l.primaryEntries, l.primaryTime = key, es, t
		entries = append(entries, es...)
		modified = t
		descs = append(descs, key)
	}
	for _, dir := range l.Config.Extra {
		es, err := loadDir(dir)
		if err != nil {
			return nil, err
		}
		entries = append(entries, es...)
		descs = append(descs, dir)
	}
	s, err := NewSnapshot(entries, modified, l.now(), strings.Join(descs, " + "))
	if err != nil {
		return nil, err
	}
	l.logger().Info("vulndb: loaded", "source", s.Source, "entries", s.Len(), "modified", s.Modified, "id", s.ID)
	return s, nil
}

// loadPrimary returns the entries of the primary source with a key that
// identifies their version and the source's time.
func (l *Loader) loadPrimary(ctx context.Context, src string) (key string, entries []*Entry, t time.Time, err error) {
	if src == SourceModule {
		return l.loadModule(ctx)
	}
	u, err := url.Parse(src)
	if err != nil {
		return "", nil, time.Time{}, err
	}
	var get func(ctx context.Context, p string) ([]byte, error)
	if u.Scheme == "file" {
		dir := filepath.FromSlash(u.Path)
		get = func(_ context.Context, p string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		}
	} else {
		base := strings.TrimRight(src, "/")
		get = func(ctx context.Context, p string) ([]byte, error) { return l.httpGet(ctx, base+"/"+p+".gz") }
	}
	return l.loadV1(ctx, src, get)
}

func (l *Loader) loadModule(ctx context.Context) (key string, entries []*Entry, t time.Time, err error) {
	if l.Fetcher == nil {
		return "", nil, time.Time{}, errors.New("vulndb: source is \"module\" but no module fetcher is configured")
	}
	mod := l.Config.modulePath()
	version, t, err := l.Fetcher.Latest(ctx, mod)
	if err != nil {
		return "", nil, time.Time{}, fmt.Errorf("vulndb: resolving %s@latest: %w", mod, err)
	}
	key = mod + "@" + version
	if key == l.primaryKey {
		return key, l.primaryEntries, l.primaryTime, nil
	}
	f, err := os.CreateTemp(l.TempDir, "modgate-vulndb-*.zip")
	if err != nil {
		return "", nil, time.Time{}, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	if err := l.Fetcher.Zip(ctx, mod, version, f); err != nil {
		return "", nil, time.Time{}, fmt.Errorf("vulndb: fetching %s: %w", key, err)
	}
	entries, err = ReadModuleZip(f, mod, version, t)
	if err != nil {
		return "", nil, time.Time{}, err
	}
	return key, entries, t, nil
}

// ReadModuleZip reads the data/osv/*.json entries of a golang.org/x/vulndb
// module zip (a file, checked with golang.org/x/mod/zip first). Entries
// whose modified time is zero, as all are in that module, get t.
func ReadModuleZip(f *os.File, mod, version string, t time.Time) ([]*Entry, error) {
	mv := module.Version{Path: mod, Version: version}
	if _, err := modzip.CheckZip(mv, f.Name()); err != nil {
		return nil, fmt.Errorf("vulndb: %s: %w", mv, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("vulndb: %s: %w", mv, err)
	}
	prefix := mod + "@" + version + "/data/osv/"
	var files []*zip.File
	for _, zf := range zr.File {
		rest, ok := strings.CutPrefix(zf.Name, prefix)
		if !ok || strings.Contains(rest, "/") || !strings.HasSuffix(rest, ".json") {
			continue
		}
		files = append(files, zf)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("vulndb: %s: no data/osv/*.json files", mv)
	}
	// Decoding dominates the load; spread it over the CPUs.
	entries := make([]*Entry, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, zf := range files {
		g.Go(func() error {
			rc, err := zf.Open()
			if err != nil {
				return fmt.Errorf("vulndb: %s: %s: %w", mv, zf.Name, err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("vulndb: %s: %s: %w", mv, zf.Name, err)
			}
			e, err := parseEntry(mv.String()+"/"+strings.TrimPrefix(zf.Name, mod+"@"+version+"/"), data)
			if err != nil {
				return err
			}
			if e != nil && e.Modified.IsZero() {
				e.Modified = t.UTC()
			}
			entries[i] = e
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return compact(entries), nil
}

func compact(es []*Entry) []*Entry {
	out := es[:0]
	for _, e := range es {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// loadV1 reads a database in the v1 layout through get, which returns
// the (uncompressed) bytes of a path like "index/db.json".
func (l *Loader) loadV1(ctx context.Context, src string, get func(context.Context, string) ([]byte, error)) (key string, entries []*Entry, t time.Time, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("vulndb: reading %s: %w", redactURL(src), err)
		}
	}()
	data, err := get(ctx, dbPath)
	if err != nil {
		return "", nil, time.Time{}, err
	}
	var db dbMeta
	if err := json.Unmarshal(data, &db); err != nil {
		return "", nil, time.Time{}, fmt.Errorf("%s: %w", dbPath, err)
	}
	key = redactURL(src) + "@" + db.Modified.UTC().Format(time.RFC3339Nano)
	if key == l.primaryKey {
		return key, l.primaryEntries, l.primaryTime, nil
	}
	data, err = get(ctx, modulesPath)
	if err != nil {
		return "", nil, time.Time{}, err
	}
	var mods []moduleMeta
	if err := json.Unmarshal(data, &mods); err != nil {
		return "", nil, time.Time{}, fmt.Errorf("%s: %w", modulesPath, err)
	}
	seen := make(map[string]bool)
	var ids []string
	for _, m := range mods {
		for _, v := range m.Vulns {
			if !seen[v.ID] {
				if !idPattern.MatchString(v.ID) {
					return "", nil, time.Time{}, fmt.Errorf("%s: invalid id %q", modulesPath, v.ID)
				}
				seen[v.ID] = true
				ids = append(ids, v.ID)
			}
		}
	}
	entries = make([]*Entry, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(httpConcurrency)
	for i, id := range ids {
		g.Go(func() error {
			p := entryPath(id)
			data, err := get(gctx, p)
			if err != nil {
				return err
			}
			e, err := parseEntry(p, data)
			if err != nil {
				return err
			}
			entries[i] = e
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", nil, time.Time{}, err
	}
	return key, compact(entries), db.Modified, nil
}

// HTTPError is a non-200 answer from an http(s) source or upstream.
type HTTPError struct {
	URL        string // redacted
	StatusCode int
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// Is makes 404 and 410 match fs.ErrNotExist.
func (e *HTTPError) Is(target error) bool {
	return target == fs.ErrNotExist && (e.StatusCode == http.StatusNotFound || e.StatusCode == http.StatusGone)
}

// maxDocSize bounds one downloaded index or entry (uncompressed).
const maxDocSize = 64 << 20

// httpGet fetches a .gz URL and returns its decompressed body.
func (l *Loader) httpGet(ctx context.Context, u string) ([]byte, error) {
	body, err := httpGetBody(ctx, l.client(), u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	zr, err := gzip.NewReader(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(u), err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxDocSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(u), err)
	}
	if len(data) > maxDocSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", redactURL(u), maxDocSize)
	}
	return data, nil
}

func httpGetBody(ctx context.Context, c *http.Client, u string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &HTTPError{URL: redactURL(u), StatusCode: resp.StatusCode}
	}
	return resp.Body, nil
}

// redactURL hides a password in u.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	return p.Redacted()
}

// loadDir reads every *.json file under dir as one OSV entry. A zero
// modified time is left for [NewSnapshot] to fill with the snapshot time
// (not the file's mtime, which a checkout resets and would change the
// snapshot's identity for nothing).
func loadDir(dir string) ([]*Entry, error) {
	var entries []*Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(d.Name()) != ".json" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		e, err := parseEntry(p, data)
		if err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vulndb: extra directory %s: %w", dir, err)
	}
	return entries, nil
}
