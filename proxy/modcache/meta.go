package modcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/modgate/modgate/internal/lru"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// metaEntry is a cached list or @latest answer.
type metaEntry struct {
	Body    []byte    `json:"body"`
	Fetched time.Time `json:"fetched"`

	list *List // parsed list (list entries only); not stored
}

// metaCache holds list and @latest answers in memory; storage keeps them
// across restarts so they can be served stale when the upstream is down.
type metaCache struct {
	entries *lru.Cache[string, *metaEntry]
}

// maxMetaEntries bounds the in-memory metadata; entries evicted reload
// from storage on demand.
const maxMetaEntries = 200000

func newMetaCache() *metaCache {
	return &metaCache{entries: lru.New[string, *metaEntry](maxMetaEntries)}
}

func (m *metaCache) get(key string) *metaEntry {
	e, _ := m.entries.Get(key)
	return e
}

func (m *metaCache) put(key string, e *metaEntry) { m.entries.Put(key, e) }

// List is a module's version list as the cache holds it.
type List struct {
	// Versions are the listed canonical versions, sorted ascending. The
	// slice is shared: callers must not modify it.
	Versions []string
	// Fetched is when the source last answered for it.
	Fetched time.Time
}

// FreshFor returns how much longer an answer the source gave at fetched
// is fresh (the list TTL less its age); zero or less means it is stale.
func (c *Cache) FreshFor(fetched time.Time) time.Duration {
	return c.listTTL() - c.now().Sub(fetched)
}

// List returns the module's @v/list: fresh from the cache, stale while a
// background refresh runs, or fetched now. When the source fails and an
// older answer exists, that answer is served (stale-if-error). Invalid
// and duplicate lines are dropped. A module the source does not have is an
// error matching upstream.ErrNotFound.
func (c *Cache) List(ctx context.Context, mod string) (*List, error) {
	c.init()
	r, err := c.ref(mod, "", KindList)
	if err != nil {
		return nil, err
	}
	e, err := c.metadata(ctx, r, noRefresh)
	if err != nil {
		return nil, err
	}
	return e.list, nil
}

// noRefresh is the maxAge of [Cache.metadata] that leaves freshness to
// the TTL.
const noRefresh = -1

// Refresh fetches the module's list now unless the cached one is younger
// than maxAge (0: always), waiting for the answer (unlike a stale List,
// which refreshes in the background).
func (c *Cache) Refresh(ctx context.Context, mod string, maxAge time.Duration) (*List, error) {
	c.init()
	r, err := c.ref(mod, "", KindList)
	if err != nil {
		return nil, err
	}
	e, err := c.metadata(ctx, r, maxAge)
	if err != nil {
		return nil, err
	}
	return e.list, nil
}

// RefreshLatest is [Cache.Latest], refetched first unless the cached
// answer is younger than maxAge (0: always).
func (c *Cache) RefreshLatest(ctx context.Context, mod string, maxAge time.Duration) (Info, []byte, error) {
	c.init()
	r, err := c.ref(mod, "", KindLatest)
	if err != nil {
		return Info{}, nil, err
	}
	e, err := c.metadata(ctx, r, maxAge)
	if err != nil {
		return Info{}, nil, err
	}
	info, err := ParseInfo(e.Body, "")
	if err != nil {
		return Info{}, nil, &FetchError{Module: mod, Kind: KindLatest, Err: err}
	}
	return info, e.Body, nil
}

// Latest returns the source's @latest answer for mod (the version the
// source would pick without a list, typically a pseudo-version for
// untagged modules), cached like lists. The body is the source's .info.
func (c *Cache) Latest(ctx context.Context, mod string) (Info, []byte, error) {
	c.init()
	r, err := c.ref(mod, "", KindLatest)
	if err != nil {
		return Info{}, nil, err
	}
	e, err := c.metadata(ctx, r, noRefresh)
	if err != nil {
		return Info{}, nil, err
	}
	info, err := ParseInfo(e.Body, "")
	if err != nil {
		return Info{}, nil, &FetchError{Module: mod, Kind: KindLatest, Err: err}
	}
	return info, e.Body, nil
}

// Query resolves a non-canonical .info query (a branch name, a commit
// prefix) at the source. Queries move, so the answer is not cached.
func (c *Cache) Query(ctx context.Context, mod, query string) (Info, []byte, error) {
	c.init()
	r, err := c.ref(mod, query, KindInfo)
	if err != nil {
		return Info{}, nil, err
	}
	data, err := c.fetchMeta(ctx, r)
	if err != nil {
		return Info{}, nil, err
	}
	info, err := ParseInfo(data, "")
	if err == nil {
		err = module.Check(mod, info.Version)
	}
	if err != nil {
		return Info{}, nil, &FetchError{Module: mod, Version: query, Kind: KindInfo, Err: errors.New("upstream answered the query with an invalid .info")}
	}
	return info, data, nil
}

// metadata returns the cached list or @latest entry of r, refreshing it
// as described at [Cache.List]. With maxAge >= 0 an entry at least that
// old is refetched before answering.
func (c *Cache) metadata(ctx context.Context, r ref, maxAge time.Duration) (*metaEntry, error) {
	key := metaKey(r.ep, string(r.kind))
	e := c.meta.get(key)
	if e == nil {
		e = c.loadMeta(ctx, key, r.kind)
	}
	now := c.now()
	if maxAge >= 0 && e != nil && now.Sub(e.Fetched) >= maxAge && c.sourceFor(r.mod) != nil {
		return c.refreshMeta(ctx, r, key)
	}
	if e != nil && (now.Sub(e.Fetched) < c.listTTL() || c.sourceFor(r.mod) == nil) {
		c.Metrics.cacheResult(r.kind, "hit")
		return e, nil
	}
	if e != nil {
		c.Metrics.cacheResult(r.kind, "stale")
		if c.SyncStale {
			return c.refreshMeta(ctx, r, key)
		}
		c.refreshInBackground(r, key)
		return e, nil
	}
	c.Metrics.cacheResult(r.kind, "miss")
	return c.refreshMeta(ctx, r, key)
}

// maxMetaRecord bounds a stored metadata record when read back: a list
// (16 MiB at most upstream) in JSON with its fetch times.
const maxMetaRecord = 64 << 20

func (c *Cache) loadMeta(ctx context.Context, key string, kind Kind) *metaEntry {
	b, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil
	}
	defer b.Close()
	var e metaEntry
	if err := json.NewDecoder(io.LimitReader(b, maxMetaRecord)).Decode(&e); err != nil {
		return nil
	}
	if kind == KindList {
		e.list = parseList(e.Body, e.Fetched)
	}
	c.meta.put(key, &e)
	return &e
}

func (c *Cache) refreshInBackground(r ref, key string) {
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := c.refreshMeta(ctx, r, key); err != nil {
			c.logger().Warn("background refresh failed; serving the previous answer", "module", r.mod, "kind", r.kind, "err", err)
		}
	}()
}

func (c *Cache) refreshMeta(ctx context.Context, r ref, key string) (*metaEntry, error) {
	body, err := c.fetchMeta(ctx, r)
	if err != nil {
		if !errors.Is(err, upstream.ErrNotFound) {
			if e := c.meta.get(key); e != nil {
				c.logger().Warn("upstream failed; serving the previous answer", "module", r.mod, "kind", r.kind, "err", err)
				return e, nil
			}
		}
		return nil, err
	}
	e := &metaEntry{Fetched: c.now()}
	if r.kind == KindList {
		e.list = parseList(body, e.Fetched)
		e.Body = listBody(e.list.Versions)
	} else {
		if _, err := ParseInfo(body, ""); err != nil {
			return nil, &FetchError{Module: r.mod, Kind: r.kind, Err: err}
		}
		e.Body = body
	}
	c.meta.put(key, e)
	if data, err := json.Marshal(e); err == nil {
		if err := c.Store.Put(context.WithoutCancel(ctx), key, bytes.NewReader(data)); err != nil {
			c.logger().Warn("could not persist metadata", "key", key, "err", err)
		}
	}
	return e, nil
}

// parseList keeps only valid canonical versions, sorted, without
// duplicates.
func parseList(body []byte, fetched time.Time) *List {
	var vs []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if v := f[0]; semver.IsValid(v) && module.CanonicalVersion(v) == v && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	semver.Sort(vs)
	return &List{Versions: vs, Fetched: fetched}
}

func listBody(vs []string) []byte {
	if len(vs) == 0 {
		return nil
	}
	return []byte(strings.Join(vs, "\n") + "\n")
}

// ParseInfo parses a .info file; want, if not empty, is the version it
// must name.
func ParseInfo(data []byte, want string) (Info, error) {
	var info Info
	if err := json.Unmarshal(data, &info); err != nil {
		return info, errors.New("malformed .info JSON")
	}
	if info.Version == "" || module.CanonicalVersion(info.Version) != info.Version {
		return info, errors.New(".info has no canonical Version")
	}
	if want != "" && info.Version != want {
		return info, errors.New(".info names version " + info.Version)
	}
	return info, nil
}

// Time returns the .info time of mod@version, fetching the .info once.
func (c *Cache) Time(ctx context.Context, mod, version string) (time.Time, error) {
	a, err := c.Get(ctx, mod, version, KindInfo)
	if err != nil {
		return time.Time{}, err
	}
	defer a.Close()
	return a.Record.Time, nil
}

// CachedTime returns the .info time of mod@version if its .info is
// cached; ok is false otherwise. It never fetches.
func (c *Cache) CachedTime(ctx context.Context, mod, version string) (t time.Time, ok bool) {
	a, err := c.Cached(ctx, mod, version, KindInfo)
	if err != nil || a == nil {
		return time.Time{}, false
	}
	defer a.Close()
	return a.Record.Time, true
}

// GoMod returns the verified go.mod of mod@version, fetching it once.
func (c *Cache) GoMod(ctx context.Context, mod, version string) ([]byte, error) {
	a, err := c.Get(ctx, mod, version, KindMod)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.Bytes()
}

// Zip opens the verified zip of mod@version, fetching it once. The caller
// closes it; it is an io.ReaderAt.
func (c *Cache) Zip(ctx context.Context, mod, version string) (storage.Blob, error) {
	a, err := c.Get(ctx, mod, version, KindZip)
	if err != nil {
		return nil, err
	}
	return a.blob(), nil
}

// CachedZip opens mod@version's zip if it is already verified and cached;
// it never fetches. ok is false when the zip is not cached.
func (c *Cache) CachedZip(ctx context.Context, mod, version string) (blob storage.Blob, ok bool, err error) {
	a, err := c.Cached(ctx, mod, version, KindZip)
	if err != nil || a == nil {
		return nil, false, err
	}
	return a.blob(), true, nil
}

// blob returns the artifact as a storage.Blob (small artifacts are held
// in memory).
func (a *Artifact) blob() storage.Blob {
	if a.Blob != nil {
		return a.Blob
	}
	return memBlob{bytes.NewReader(a.Data), a.Record}
}

type memBlob struct {
	*bytes.Reader
	rec FileRecord
}

func (m memBlob) Close() error       { return nil }
func (m memBlob) Size() int64        { return m.rec.Size }
func (m memBlob) ModTime() time.Time { return m.rec.Committed }

// ReadRecord returns the module-level record name (for example the
// first-seen times the facts service keeps), or an error matching
// fs.ErrNotExist when there is none.
func (c *Cache) ReadRecord(ctx context.Context, mod, name string) ([]byte, error) {
	c.init()
	r, err := c.ref(mod, "", KindList)
	if err != nil {
		return nil, err
	}
	b, err := c.Store.Get(ctx, metaKey(r.ep, name))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(io.LimitReader(b, maxMetaRecord))
}

// WriteRecord atomically replaces the module-level record name.
func (c *Cache) WriteRecord(ctx context.Context, mod, name string, data []byte) error {
	c.init()
	r, err := c.ref(mod, "", KindList)
	if err != nil {
		return err
	}
	if err := c.Store.Put(ctx, metaKey(r.ep, name), bytes.NewReader(data)); err != nil {
		return &StorageError{Op: "write " + name + " record", Err: err}
	}
	return nil
}
