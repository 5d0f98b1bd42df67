package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// metaEntry is a cached list or @latest answer.
type metaEntry struct {
	Body    []byte    `json:"body"`
	Fetched time.Time `json:"fetched"`
}

// metaCache holds list and @latest answers in memory; storage keeps them
// across restarts so they can be served stale when the upstream is down.
type metaCache struct {
	mu      sync.RWMutex // protects entries
	entries map[string]*metaEntry
}

func (m *metaCache) get(key string) *metaEntry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.entries[key]
}

func (m *metaCache) put(key string, e *metaEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.entries) > 200000 {
		m.entries = make(map[string]*metaEntry)
	}
	m.entries[key] = e
}

// metadata returns the list or @latest body for req's module: fresh from
// the cache, stale while a background refresh runs, or fetched now. When
// the upstream fails and an older answer exists, that answer is served
// (stale-if-error).
func (p *Proxy) metadata(ctx context.Context, req Request, kind Kind) ([]byte, error) {
	ep, _, err := p.paths.escaped(req)
	if err != nil {
		return nil, &RequestError{Path: req.String(), Err: err}
	}
	key := metaKey(ep, string(kind))
	e := p.meta.get(key)
	if e == nil {
		e = p.loadMeta(ctx, key)
	}
	now := p.now()
	if e != nil && (now.Sub(e.Fetched) < p.listTTL() || p.fetcherFor(req.Module) == nil) {
		p.Metrics.cacheResult(kind, "hit")
		return e.Body, nil
	}
	if e != nil {
		p.Metrics.cacheResult(kind, "stale")
		p.refreshInBackground(req, kind, key)
		return e.Body, nil
	}
	p.Metrics.cacheResult(kind, "miss")
	body, err := p.refreshMeta(ctx, req, kind, key)
	if err != nil {
		return nil, err
	}
	return body, nil
}

func (p *Proxy) loadMeta(ctx context.Context, key string) *metaEntry {
	b, err := p.Store.Get(ctx, key)
	if err != nil {
		return nil
	}
	defer b.Close()
	var e metaEntry
	if err := json.NewDecoder(io.LimitReader(b, maxList*2)).Decode(&e); err != nil {
		return nil
	}
	p.meta.put(key, &e)
	return &e
}

func (p *Proxy) refreshInBackground(req Request, kind Kind, key string) {
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := p.refreshMeta(ctx, req, kind, key); err != nil {
			p.logger().Warn("background refresh failed; serving the previous answer", "module", req.Module, "kind", kind, "err", err)
		}
	}()
}

func (p *Proxy) refreshMeta(ctx context.Context, req Request, kind Kind, key string) ([]byte, error) {
	body, err := p.fetchMeta(ctx, req, kind)
	if err != nil {
		if !errors.Is(err, upstream.ErrNotFound) {
			if e := p.meta.get(key); e != nil {
				p.logger().Warn("upstream failed; serving the previous answer", "module", req.Module, "kind", kind, "err", err)
				return e.Body, nil
			}
		}
		return nil, err
	}
	if kind == KindList {
		body = cleanList(body)
		p.recordFirstSeen(ctx, req.Module, versionsOf(body), false)
		if old := p.meta.get(key); p.OnListChange != nil && (old == nil || !bytes.Equal(old.Body, body)) {
			p.OnListChange(req.Module)
		}
	} else if _, err := parseInfo(body, ""); err != nil {
		return nil, &FetchError{Module: req.Module, Kind: kind, Err: err}
	}
	e := &metaEntry{Body: body, Fetched: p.now()}
	p.meta.put(key, e)
	if data, err := json.Marshal(e); err == nil {
		if err := p.Store.Put(context.WithoutCancel(ctx), key, bytes.NewReader(data)); err != nil {
			p.logger().Warn("could not persist metadata", "key", key, "err", err)
		}
	}
	return body, nil
}

// cleanList keeps only valid canonical versions, sorted, one per line.
func cleanList(body []byte) []byte {
	var vs []string
	seen := map[string]bool{}
	for _, v := range versionsOf(body) {
		if semver.IsValid(v) && module.CanonicalVersion(v) == v && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	semver.Sort(vs)
	if len(vs) == 0 {
		return nil
	}
	return []byte(strings.Join(vs, "\n") + "\n")
}

func (p *Proxy) serveList(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	body, err := p.metadata(ctx, req, KindList)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	allowed, _, err := p.allowedVersions(ctx, req.Module, versionsOf(body), KindList, clientID(r))
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	var b bytes.Buffer
	for _, v := range allowed {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	w.Header().Set("Content-Type", contentTypes[KindList])
	w.Header().Set("Cache-Control", listCache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Bytes()))
}

// allowedVersions filters versions through the decider. It also returns
// the first denial, for reporting when nothing is allowed.
func (p *Proxy) allowedVersions(ctx context.Context, mod string, versions []string, kind Kind, client string) ([]string, error, error) {
	var allowed []string
	var firstDenial error
	for _, v := range versions {
		_, err := p.decide(ctx, Request{Module: mod, Version: v}, kind, Query{Client: client})
		var de *DeniedError
		switch {
		case err == nil:
			allowed = append(allowed, v)
		case errors.As(err, &de):
			firstDenial = err
		default:
			return nil, nil, err
		}
	}
	return allowed, firstDenial, nil
}

// serveLatest answers @latest with the newest version the policy allows,
// choosing as the go command does: the highest non-retracted release,
// else pre-release, from the list; the upstream's @latest (typically a
// pseudo-version) only when the list is empty.
func (p *Proxy) serveLatest(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	client := clientID(r)
	list, err := p.metadata(ctx, Request{Module: req.Module, Kind: KindList}, KindList)
	if err != nil && !errors.Is(err, upstream.ErrNotFound) {
		p.serveError(w, r, req, err)
		return
	}
	versions := versionsOf(list)
	var chosen string
	if len(versions) > 0 {
		retracted := p.retractions(ctx, req.Module, versions[len(versions)-1])
		var candidates []string
		for _, v := range versions {
			if !retracted(v) {
				candidates = append(candidates, v)
			}
		}
		allowed, denial, err := p.allowedVersions(ctx, req.Module, candidates, KindLatest, client)
		if err != nil {
			p.serveError(w, r, req, err)
			return
		}
		chosen = pickLatest(allowed)
		if chosen == "" {
			if denial == nil {
				denial = &FetchError{Module: req.Module, Kind: KindLatest, Err: upstreamNotFound}
			}
			p.serveError(w, r, req, denial)
			return
		}
	} else {
		body, err := p.metadata(ctx, req, KindLatest)
		if err != nil {
			p.serveError(w, r, req, err)
			return
		}
		info, err := parseInfo(body, "")
		if err != nil {
			p.serveError(w, r, req, &FetchError{Module: req.Module, Kind: KindLatest, Err: err})
			return
		}
		if _, err := p.decide(ctx, Request{Module: req.Module, Version: info.Version}, KindLatest, Query{Time: info.Time, Client: client}); err != nil {
			p.serveError(w, r, req, err)
			return
		}
		w.Header().Set("Content-Type", contentTypes[KindLatest])
		w.Header().Set("Cache-Control", listCache)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return
	}
	a, err := p.artifact(ctx, Request{Module: req.Module, Version: chosen, Kind: KindInfo})
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	defer a.Close()
	data, err := a.content()
	if err != nil {
		p.serveError(w, r, req, &StorageError{Op: "read", Err: err})
		return
	}
	w.Header().Set("Content-Type", contentTypes[KindLatest])
	w.Header().Set("Cache-Control", listCache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// pickLatest returns the highest release in vs, else the highest
// pre-release (vs is sorted ascending).
func pickLatest(vs []string) string {
	for i := len(vs) - 1; i >= 0; i-- {
		if semver.Prerelease(vs[i]) == "" {
			return vs[i]
		}
	}
	if len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

// retractions reads the retract directives of the go.mod of the module's
// latest listed version, as the go command does.
func (p *Proxy) retractions(ctx context.Context, mod, latest string) func(string) bool {
	none := func(string) bool { return false }
	a, err := p.artifact(ctx, Request{Module: mod, Version: latest, Kind: KindMod})
	if err != nil {
		p.logger().Warn("could not read retractions", "module", mod, "version", latest, "err", err)
		return none
	}
	defer a.Close()
	data, err := a.content()
	if err != nil {
		return none
	}
	return Retractions(data)
}

// firstSeenRecord tracks when each version of a module first appeared in
// the upstream's list. Versions present the first time modgate listed the
// module are marked Initial: their age comes from their .info time.
type firstSeenRecord struct {
	Created  time.Time           `json:"created"`
	Versions map[string]seenInfo `json:"versions"`
}

type seenInfo struct {
	First   time.Time `json:"first"`
	Initial bool      `json:"initial,omitempty"`
}

func (p *Proxy) firstSeenLock(ep string) *sync.Mutex {
	mu, _ := p.firstSeen.LoadOrStore(ep, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// loadFirstSeen returns the module's first-seen record, or nil if it has
// none. Parsed records are kept in memory (including the knowledge that
// there is none) because decisions consult them on every request.
func (p *Proxy) loadFirstSeen(ctx context.Context, ep string) *firstSeenRecord {
	p.seenMu.RLock()
	rec, ok := p.seen[ep]
	p.seenMu.RUnlock()
	if ok {
		return rec
	}
	rec = nil
	if b, err := p.Store.Get(ctx, metaKey(ep, "firstseen")); err == nil {
		data, err := io.ReadAll(b)
		b.Close()
		var r firstSeenRecord
		if err == nil && json.Unmarshal(data, &r) == nil && r.Versions != nil {
			rec = &r
		}
	}
	p.rememberSeen(ep, rec)
	return rec
}

func (p *Proxy) rememberSeen(ep string, rec *firstSeenRecord) {
	p.seenMu.Lock()
	defer p.seenMu.Unlock()
	if len(p.seen) > 200000 {
		p.seen = make(map[string]*firstSeenRecord)
	}
	p.seen[ep] = rec
}

// recordFirstSeen notes versions not seen before. direct is true when the
// versions come from a direct request rather than a list, in which case a
// module without a record does not mark them Initial.
func (p *Proxy) recordFirstSeen(ctx context.Context, mod string, versions []string, direct bool) {
	ep, err := p.paths.escapePath(mod)
	if err != nil {
		return
	}
	mu := p.firstSeenLock(ep)
	mu.Lock()
	defer mu.Unlock()
	now := p.now().UTC()
	initial := false
	var rec *firstSeenRecord
	if old := p.loadFirstSeen(ctx, ep); old != nil {
		// Copy: readers hold the old record without a lock.
		rec = &firstSeenRecord{Created: old.Created, Versions: make(map[string]seenInfo, len(old.Versions)+len(versions))}
		for k, v := range old.Versions {
			rec.Versions[k] = v
		}
	} else {
		rec = &firstSeenRecord{Created: now, Versions: map[string]seenInfo{}}
		initial = !direct
	}
	changed := false
	for _, v := range versions {
		if _, ok := rec.Versions[v]; !ok {
			rec.Versions[v] = seenInfo{First: now, Initial: initial}
			changed = true
		}
	}
	if !changed {
		return
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return
	}
	key := metaKey(ep, "firstseen")
	p.rememberSeen(ep, rec)
	if err := p.Store.Put(context.WithoutCancel(ctx), key, bytes.NewReader(data)); err != nil {
		p.logger().Warn("could not persist first-seen times", "module", mod, "err", err)
	}
}

// FirstSeen reports when modgate first saw mod@version in the upstream's
// list. initial is true when the version was already listed the first time
// modgate listed the module (its age then comes from its .info time). ok
// is false when modgate has not seen the version listed.
func (p *Proxy) FirstSeen(ctx context.Context, mod, version string) (first time.Time, initial, ok bool) {
	p.init()
	ep, err := p.paths.escapePath(mod)
	if err != nil {
		return time.Time{}, false, false
	}
	rec := p.loadFirstSeen(ctx, ep)
	if rec == nil {
		return time.Time{}, false, false
	}
	s, ok := rec.Versions[version]
	return s.First, s.Initial, ok
}

// firstSeenFor returns the FirstSeen of a query: the recorded time, or
// the .info time for versions listed when modgate first listed the module.
func (p *Proxy) firstSeenFor(ctx context.Context, mod, version string, kind Kind, infoTime time.Time) time.Time {
	first, initial, ok := p.FirstSeen(ctx, mod, version)
	if !ok && p.RequireFirstSeen && (kind == KindInfo || kind == KindMod || kind == KindZip) {
		// Establish the module's initial set first, so an old version
		// requested before any listing is not mistaken for a new one.
		if _, err := p.metadata(ctx, Request{Module: mod, Kind: KindList}, KindList); err == nil {
			first, initial, ok = p.FirstSeen(ctx, mod, version)
		}
		if !ok {
			p.recordFirstSeen(ctx, mod, []string{version}, true)
			first, initial, ok = p.FirstSeen(ctx, mod, version)
		}
	}
	switch {
	case !ok:
		return time.Time{}
	case initial:
		return infoTime
	}
	return first
}

// Versions returns the module's upstream list (cached), sorted.
func (p *Proxy) Versions(ctx context.Context, mod string) ([]string, error) {
	p.init()
	body, err := p.metadata(ctx, Request{Module: mod, Kind: KindList}, KindList)
	if err != nil {
		return nil, err
	}
	vs := versionsOf(body)
	sort.Slice(vs, func(i, j int) bool { return semver.Compare(vs[i], vs[j]) < 0 })
	return vs, nil
}

// Latest resolves mod@latest without policy, as the go command would: the
// highest release (else pre-release) in the list, else the upstream's
// @latest. It returns the version and its .info time.
func (p *Proxy) Latest(ctx context.Context, mod string) (string, time.Time, error) {
	p.init()
	vs, err := p.Versions(ctx, mod)
	if err != nil && !errors.Is(err, upstream.ErrNotFound) {
		return "", time.Time{}, err
	}
	if v := pickLatest(vs); v != "" {
		t, err := p.InfoTime(ctx, mod, v)
		return v, t, err
	}
	body, err := p.metadata(ctx, Request{Module: mod, Kind: KindLatest}, KindLatest)
	if err != nil {
		return "", time.Time{}, err
	}
	info, err := parseInfo(body, "")
	if err != nil {
		return "", time.Time{}, &FetchError{Module: mod, Kind: KindLatest, Err: err}
	}
	return info.Version, info.Time, nil
}

// GoMod returns the verified go.mod of mod@version (cached).
func (p *Proxy) GoMod(ctx context.Context, mod, version string) ([]byte, error) {
	p.init()
	a, err := p.artifact(ctx, Request{Module: mod, Version: version, Kind: KindMod})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.content()
}

// InfoTime returns the .info time of mod@version (cached).
func (p *Proxy) InfoTime(ctx context.Context, mod, version string) (time.Time, error) {
	p.init()
	a, err := p.artifact(ctx, Request{Module: mod, Version: version, Kind: KindInfo})
	if err != nil {
		return time.Time{}, err
	}
	defer a.Close()
	return a.rec.Time, nil
}

// ZipFile opens the verified zip of mod@version (cached), for fact
// gathering such as license detection. The caller closes it.
func (p *Proxy) ZipFile(ctx context.Context, mod, version string) (storage.Blob, error) {
	p.init()
	a, err := p.artifact(ctx, Request{Module: mod, Version: version, Kind: KindZip})
	if err != nil {
		return nil, err
	}
	if a.blob != nil {
		return a.blob, nil
	}
	return memBlob{bytes.NewReader(a.data), a.rec}, nil
}

type memBlob struct {
	*bytes.Reader
	rec fileRecord
}

func (m memBlob) Close() error       { return nil }
func (m memBlob) Size() int64        { return m.rec.Size }
func (m memBlob) ModTime() time.Time { return m.rec.Committed }

// CachedZip opens mod@version's zip if it is already verified and cached;
// it never fetches. ok is false when the zip is not cached.
func (p *Proxy) CachedZip(ctx context.Context, mod, version string) (blob storage.Blob, ok bool, err error) {
	p.init()
	ep, err1 := p.paths.escapePath(mod)
	ev, err2 := module.EscapeVersion(version)
	if err1 != nil || err2 != nil {
		return nil, false, nil
	}
	a, err := p.cache.get(ctx, ep, ev, KindZip)
	if err != nil || a == nil {
		return nil, false, err
	}
	if a.blob != nil {
		return a.blob, true, nil
	}
	return memBlob{bytes.NewReader(a.data), a.rec}, true, nil
}
