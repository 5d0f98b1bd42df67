package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// Fetcher fetches escaped protocol paths from upstream proxies.
// [upstream.Client] is the implementation; errors that match
// upstream.ErrNotFound mean the file does not exist.
type Fetcher interface {
	Get(ctx context.Context, rel string, class upstream.Class) (*upstream.Response, error)
}

// Proxy serves the Go module proxy protocol from a verified cache in
// front of upstream proxies, asking a [Decider] before serving any version.
// Set the fields, then use it as an http.Handler; fields must not change
// after the first request. Paths are protocol paths ("/$module/@v/list");
// mount it under a prefix with http.StripPrefix.
type Proxy struct {
	// Upstream fetches from the public upstream list. Nil means
	// cache-only: misses are not found.
	Upstream Fetcher
	// Private holds GONOPROXY-style patterns of module paths that must
	// never be requested from Upstream (nor looked up in the checksum
	// database: set the Verifier's NoSumDB to include them).
	Private string
	// PrivateUpstream fetches modules matching Private. Nil means such
	// modules are served from the cache only.
	PrivateUpstream Fetcher
	// Verifier checks every fetched .mod and .zip. Nil means only
	// structural checks are possible, which the proxy refuses: it must be
	// set (use a Verifier with a nil DB to disable database checks).
	Verifier *checksum.Verifier
	// Store holds verified artifacts and metadata.
	Store storage.Storage
	// Decider gates every version served. Nil allows everything.
	Decider Decider
	// ListTTL is how long a fetched @v/list or @latest is served before
	// being refreshed in the background. Zero means 1 minute.
	ListTTL time.Duration
	// NotFoundTTL is how long a not-found answer is remembered. Zero
	// means 1 minute; negative disables negative caching.
	NotFoundTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics records instruments; nil records nothing.
	Metrics *Metrics
	// OnListChange, if set, is called with a module path whenever its
	// upstream list changes (for example to drop cached policy facts).
	OnListChange func(module string)
	// RequireFirstSeen makes the proxy list a module before deciding on a
	// version it has never seen listed, so every decision knows when the
	// version appeared (needed by cooldown rules). Off, a version never
	// seen listed is decided with a zero FirstSeen.
	RequireFirstSeen bool

	once      sync.Once
	cache     *artifactCache
	flights   flightGroup
	meta      *metaCache
	negative  *negativeCache
	lastUpOK  atomic.Int64 // unix nanos of the last upstream answer (any status)
	scratch   func() (tempFile, error)
	inflight  sync.WaitGroup
	firstSeen sync.Map // escaped path -> *sync.Mutex serializing firstseen updates

	paths pathChecks

	// seenMu protects seen, the parsed first-seen records by escaped
	// path (nil value: the module has none).
	seenMu sync.RWMutex
	seen   map[string]*firstSeenRecord
}

func (p *Proxy) init() {
	p.once.Do(func() {
		p.cache = newArtifactCache(p.Store)
		p.meta = &metaCache{entries: make(map[string]*metaEntry)}
		p.negative = &negativeCache{m: make(map[string]time.Time)}
		p.seen = make(map[string]*firstSeenRecord)
		p.scratch = scratchFunc(p.Store)
	})
}

func (p *Proxy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func (p *Proxy) decider() Decider {
	if p.Decider != nil {
		return p.Decider
	}
	return AllowAll{}
}

func (p *Proxy) listTTL() time.Duration {
	if p.ListTTL > 0 {
		return p.ListTTL
	}
	return time.Minute
}

func (p *Proxy) notFoundTTL() time.Duration {
	if p.NotFoundTTL == 0 {
		return time.Minute
	}
	return p.NotFoundTTL
}

// fetcherFor returns the upstream allowed to see path, or nil.
func (p *Proxy) fetcherFor(path string) Fetcher {
	if p.Private != "" && module.MatchPrefixPatterns(p.Private, path) {
		return p.PrivateUpstream
	}
	return p.Upstream
}

// Wait blocks until background work (list refreshes) has finished; it is
// for graceful shutdown and tests.
func (p *Proxy) Wait() { p.inflight.Wait() }

// ServeHTTP serves one protocol request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.init()
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	endpoint := "other"
	defer func() {
		p.Metrics.observe(endpoint, rec.status, time.Since(start))
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		writeText(rec, r, http.StatusMethodNotAllowed, "method not allowed: the module proxy protocol uses GET")
		return
	}
	req, err := parseRequest(r.URL.Path, &p.paths)
	if err != nil {
		p.serveError(rec, r, Request{}, err)
		return
	}
	endpoint = string(req.Kind)
	switch req.Kind {
	case KindList:
		p.serveList(rec, r, req)
	case KindLatest:
		p.serveLatest(rec, r, req)
	case KindInfo:
		if !req.Canonical() {
			p.serveQuery(rec, r, req)
			return
		}
		p.serveArtifact(rec, r, req)
	default:
		p.serveArtifact(rec, r, req)
	}
}

// statusRecorder remembers the status code for metrics and logs.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ReadFrom lets io.Copy reach the connection's ReadFrom, so cached
// files served with http.ServeContent go out with sendfile(2).
func (s *statusRecorder) ReadFrom(r io.Reader) (int64, error) {
	s.wrote = true
	return io.Copy(s.ResponseWriter, r)
}

// Cache-Control values per route.
const (
	immutableCache = "public, max-age=604800, immutable"
	listCache      = "public, max-age=60"
)

// Shared header values for direct assignment (never modified).
var (
	immutableCacheHeader = []string{immutableCache}
	acceptRangesHeader   = []string{"bytes"}
	contentTypeHeader    = map[Kind][]string{
		KindInfo: {"application/json"},
		KindMod:  {"text/plain; charset=utf-8"},
		KindZip:  {"application/zip"},
	}
)

// unconditional reports whether r carries no Range or precondition
// headers, so the full body can be sent without http.ServeContent.
func unconditional(r *http.Request) bool {
	h := r.Header
	return len(h["Range"]) == 0 && len(h["If-None-Match"]) == 0 && len(h["If-Modified-Since"]) == 0 &&
		len(h["If-Match"]) == 0 && len(h["If-Unmodified-Since"]) == 0 && len(h["If-Range"]) == 0
}

var contentTypes = map[Kind]string{
	KindList:   "text/plain; charset=utf-8",
	KindLatest: "application/json",
	KindInfo:   "application/json",
	KindMod:    "text/plain; charset=utf-8",
	KindZip:    "application/zip",
}

// decide asks the decider and turns a denial into a *DeniedError.
func (p *Proxy) decide(ctx context.Context, req Request, kind Kind, q Query) (Decision, error) {
	q.Module, q.Version, q.Kind = req.Module, req.Version, kind
	if p.Decider == nil {
		return Decision{}, nil // nothing to decide: skip fact gathering
	}
	if q.FirstSeen.IsZero() {
		q.FirstSeen = p.firstSeenFor(ctx, req.Module, req.Version, kind, q.Time)
	}
	d, err := p.decider().Decide(ctx, q)
	if err != nil {
		return d, &DecisionError{Module: req.Module, Version: req.Version, Err: err}
	}
	if !d.Allowed() {
		p.Metrics.deniedOne(kind)
		return d, &DeniedError{Module: req.Module, Version: req.Version, Decision: d}
	}
	return d, nil
}

// setWarnings reports a decision's warnings to the client and the log.
func (p *Proxy) setWarnings(w http.ResponseWriter, req Request, d Decision) {
	for _, v := range append(d.Warn, d.Audit...) {
		w.Header().Add("X-Modgate-Warning", v.Rule+": "+oneLine(v.Msg))
	}
	if len(d.Warn) > 0 || len(d.Audit) > 0 {
		p.logger().Warn("policy warnings", "module", req.Module, "version", req.Version, "warn", d.Warn, "audit", d.Audit)
	}
}

func (p *Proxy) serveArtifact(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	q := Query{Client: clientID(r)}
	// Rules may need the version's time, which the small .info has; it
	// is fetched alongside the artifact, not before it.
	var infoDone chan struct{}
	var infoErr error
	var hit *cached
	if p.Decider != nil && req.Kind != KindInfo {
		// The hot path: artifact and .info time from one commit record.
		if hit = p.cachedArtifact(ctx, req); hit != nil && !hit.infoTime.IsZero() {
			q.Time = hit.infoTime
		} else {
			if hit != nil {
				hit.Close()
				hit = nil
			}
			infoDone = make(chan struct{})
		}
	}
	if infoDone != nil {
		go func() {
			defer close(infoDone)
			info, err := p.artifact(ctx, Request{Module: req.Module, Version: req.Version, Kind: KindInfo})
			if err != nil {
				infoErr = err
				return
			}
			q.Time = info.rec.Time
			info.Close()
		}()
	}
	// The artifact is fetched (and verified) before the decision so that
	// facts read from it, such as a zip's licenses, are known when the
	// rules run. Caching a denied artifact is harmless: serving is gated.
	a, err := hit, error(nil)
	if a == nil {
		a, err = p.artifact(ctx, req)
	}
	if infoDone != nil {
		<-infoDone
	}
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	defer a.Close()
	if infoErr != nil && !errors.Is(infoErr, upstream.ErrNotFound) {
		p.serveError(w, r, req, infoErr)
		return
	}
	if req.Kind == KindInfo {
		q.Time = a.rec.Time
	}
	d, err := p.decide(ctx, req, req.Kind, q)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	p.setWarnings(w, req, d)
	hv := a.rec.headers()
	h := w.Header()
	// Direct map assignment of shared, canonical-key slices: no allocation.
	h["Content-Type"] = contentTypeHeader[req.Kind]
	h["Cache-Control"] = immutableCacheHeader
	h["Etag"] = hv.etag
	switch {
	case a.data != nil && unconditional(r):
		// The common case (the go command sends no Range or validators):
		// what ServeContent would send, without its per-request work.
		h["Last-Modified"] = hv.lastModified
		h["Content-Length"] = hv.contentLength
		h["Accept-Ranges"] = acceptRangesHeader
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(a.data)
		}
	case a.data != nil:
		http.ServeContent(w, r, "", a.rec.Committed, bytes.NewReader(a.data))
	default:
		http.ServeContent(w, r, "", a.rec.Committed, a.blob)
	}
	if r.Method == http.MethodGet {
		p.Metrics.served(req.Kind, a.rec.Size)
	}
}

// cachedArtifact returns req's artifact if it is committed, or nil; it
// never fetches.
func (p *Proxy) cachedArtifact(ctx context.Context, req Request) *cached {
	ep, ev, err := p.paths.escaped(req)
	if err != nil {
		return nil
	}
	a, _ := p.cache.get(ctx, ep, ev, req.Kind)
	if a != nil {
		p.Metrics.cacheResult(req.Kind, "hit")
	}
	return a
}

// serveQuery resolves a non-canonical .info query (branch, commit prefix)
// upstream; the answer is not cached under the query since queries move.
func (p *Proxy) serveQuery(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	data, err := p.fetchMeta(ctx, req, KindInfo)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	info, err := parseInfo(data, "")
	if err != nil || module.Check(req.Module, info.Version) != nil {
		p.serveError(w, r, req, &FetchError{Module: req.Module, Version: req.Version, Err: errors.New("upstream answered the query with an invalid .info")})
		return
	}
	resolved := Request{Module: req.Module, Version: info.Version, Kind: KindInfo}
	d, err := p.decide(ctx, resolved, KindInfo, Query{Time: info.Time, Client: clientID(r)})
	if err != nil {
		p.serveError(w, r, resolved, err)
		return
	}
	p.setWarnings(w, resolved, d)
	w.Header().Set("Content-Type", contentTypes[KindInfo])
	w.Header().Set("Cache-Control", listCache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// infoFile is the JSON of a .info file. Unknown fields (such as Origin)
// are preserved because the proxy serves the upstream's bytes verbatim.
type infoFile struct {
	Version string
	Time    time.Time
}

func parseInfo(data []byte, want string) (infoFile, error) {
	var info infoFile
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

// clientID identifies the requester for logs and policy: the
// authenticated user if a front end set one, else the remote address.
func clientID(r *http.Request) string {
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		return u
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return truncate(s, 300)
}
