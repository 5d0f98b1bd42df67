package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/internal/modpath"
	"github.com/modgate/modgate/proxy/modcache"
)

// Proxy serves the Go module proxy protocol from the verified module cache,
// asking a [Decider] before serving, listing or resolving any version.
// Set the fields, then use it as an http.Handler; fields must not change
// after the first request. Paths are protocol paths ("/$module/@v/list");
// mount it under a prefix with http.StripPrefix.
type Proxy struct {
	// Cache holds and fetches verified artifacts. Required.
	Cache *modcache.Cache
	// Facts answers what is known about modules (versions, latest).
	// Required when Decider is nil.
	Facts *facts.Service
	// Decider gates every version. Nil allows everything (a [Filter]
	// over Facts with no decision function).
	Decider Decider
	// Logger receives logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics records instruments; nil records nothing.
	Metrics *Metrics

	once  sync.Once
	gate  Decider
	paths modpath.Checks
}

func (p *Proxy) init() {
	p.once.Do(func() {
		p.gate = p.Decider
		if p.gate == nil {
			p.gate = Filter{Facts: p.Facts}
		}
	})
}

func (p *Proxy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

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
	// staleCache is for a list or @latest served past its TTL (while it
	// refreshes, or because the upstream failed): recheck soon, but a
	// cache in front may keep serving it through errors (RFC 5861).
	staleCache = "public, max-age=10, stale-if-error=86400"
)

// listCacheControl is the Cache-Control of an answer derived from a list
// the source gave at fetched: fresh for what is left of its TTL (at most
// a minute), or marked stale.
func (p *Proxy) listCacheControl(fetched time.Time) string {
	if fetched.IsZero() {
		return listCache
	}
	left := p.Cache.FreshFor(fetched)
	switch {
	case left <= 0:
		return staleCache
	case left >= time.Minute:
		return listCache
	}
	return "public, max-age=" + strconv.Itoa(int(left/time.Second)+1)
}

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

// decide asks the decider about one version and turns a denial into a
// *DeniedError.
func (p *Proxy) decide(ctx context.Context, q Query) (Decision, error) {
	d, err := p.gate.Decide(ctx, q)
	if err != nil {
		return d, &DecisionError{Module: q.Module, Version: q.Version, Err: err}
	}
	if !d.Allowed() {
		p.Metrics.deniedOne(q.Kind)
		return d, &DeniedError{Module: q.Module, Version: q.Version, Kind: q.Kind, Decision: d}
	}
	return d, nil
}

// setWarnings reports a decision's warnings to the client and the log.
func (p *Proxy) setWarnings(w http.ResponseWriter, module, version string, d Decision) {
	for _, v := range append(d.Warn, d.Audit...) {
		w.Header().Add("X-Modgate-Warning", v.Rule+": "+oneLine(v.Msg))
	}
	if len(d.Warn) > 0 || len(d.Audit) > 0 {
		p.logger().Warn("policy warnings", "module", module, "version", version, "warn", d.Warn, "audit", d.Audit)
	}
}

func (p *Proxy) serveArtifact(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	// The artifact is fetched (and verified) before the decision so that
	// facts read from it, such as a zip's licenses, are known when the
	// rules run. Caching a denied artifact is harmless: serving is gated.
	a, err := p.Cache.Get(ctx, req.Module, req.Version, req.Kind)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	defer a.Close()
	d, err := p.decide(ctx, Query{Module: req.Module, Version: req.Version, Kind: req.Kind, Client: clientOf(r)})
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	p.setWarnings(w, req.Module, req.Version, d)
	hv := a.Record.Headers()
	h := w.Header()
	// Direct map assignment of shared, canonical-key slices: no allocation.
	h["Content-Type"] = contentTypeHeader[req.Kind]
	h["Cache-Control"] = immutableCacheHeader
	h["Etag"] = hv.ETag
	switch {
	case a.Data != nil && unconditional(r):
		// The common case (the go command sends no Range or validators):
		// what ServeContent would send, without its per-request work.
		h["Last-Modified"] = hv.LastModified
		h["Content-Length"] = hv.ContentLength
		h["Accept-Ranges"] = acceptRangesHeader
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(a.Data)
		}
	case a.Data != nil:
		http.ServeContent(w, r, "", a.Record.Committed, bytes.NewReader(a.Data))
	default:
		http.ServeContent(w, r, "", a.Record.Committed, a.Blob)
	}
	if r.Method == http.MethodGet {
		p.Metrics.served(req.Kind, a.Record.Size)
	}
}

// serveQuery resolves a non-canonical .info query (branch, commit prefix)
// upstream; the answer is not cached under the query since queries move.
func (p *Proxy) serveQuery(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	info, data, err := p.Cache.Query(ctx, req.Module, req.Version)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	resolved := Request{Module: req.Module, Version: info.Version, Kind: KindInfo}
	d, err := p.decide(ctx, Query{Module: req.Module, Version: info.Version, Kind: KindInfo, Client: clientOf(r)})
	if err != nil {
		p.serveError(w, r, resolved, err)
		return
	}
	p.setWarnings(w, req.Module, info.Version, d)
	w.Header().Set("Content-Type", contentTypes[KindInfo])
	w.Header().Set("Cache-Control", listCache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// serveList answers @v/list with the versions the policy lets the client
// see.
func (p *Proxy) serveList(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	q := Query{Module: req.Module, Kind: KindList, Client: clientOf(r)}
	m, err := p.exists(ctx, req)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	l, err := p.gate.List(ctx, q)
	if err != nil {
		p.serveError(w, r, req, &DecisionError{Module: req.Module, Err: err})
		return
	}
	p.Metrics.deniedN(KindList, len(l.Verdicts)-len(l.Allowed))
	var b bytes.Buffer
	for _, v := range l.Allowed {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	w.Header().Set("Content-Type", contentTypes[KindList])
	w.Header().Set("Cache-Control", p.listCacheControl(m.ListFetched()))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Bytes()))
}

// exists reports a module that has no version at all, listed or at
// @latest, as not found.
func (p *Proxy) exists(ctx context.Context, req Request) (*facts.Module, error) {
	m, err := p.Facts.Module(ctx, req.Module)
	if err != nil {
		return nil, err
	}
	if m.Latest == "" {
		cause := errNoVersion
		if errors.Is(m.Unlisted, modcache.ErrNotCached) {
			cause = modcache.ErrNotCached // say why: no upstream may be asked
		}
		return nil, &modcache.FetchError{Module: req.Module, Kind: req.Kind, Err: cause}
	}
	return m, nil
}

// errNoVersion is the cause of a not-found list or @latest.
var errNoVersion = errors.New("the upstream has no version of this module")

// serveLatest answers @latest with the newest version the policy allows,
// chosen as the go command chooses.
func (p *Proxy) serveLatest(w http.ResponseWriter, r *http.Request, req Request) {
	ctx := r.Context()
	m, err := p.exists(ctx, req)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	pick, err := p.gate.Latest(ctx, Query{Module: req.Module, Kind: KindLatest, Client: clientOf(r)})
	if err != nil {
		p.serveError(w, r, req, &DecisionError{Module: req.Module, Err: err})
		return
	}
	if pick.Version == "" {
		p.Metrics.deniedOne(KindLatest)
		p.serveError(w, r, req, &DeniedError{Module: req.Module, Version: pick.Unfiltered, Kind: KindLatest, Decision: pick.Decision})
		return
	}
	p.setWarnings(w, req.Module, pick.Version, pick.Decision)
	a, err := p.Cache.Get(ctx, req.Module, pick.Version, KindInfo)
	if err != nil {
		p.serveError(w, r, req, err)
		return
	}
	defer a.Close()
	data, err := a.Bytes()
	if err != nil {
		p.serveError(w, r, req, &modcache.StorageError{Op: "read", Err: err})
		return
	}
	w.Header().Set("Content-Type", contentTypes[KindLatest])
	w.Header().Set("Cache-Control", p.listCacheControl(m.ListFetched()))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// clientOf identifies the requester: the remote address (identity comes
// from authentication middleware, when configured).
func clientOf(r *http.Request) Client {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return Client{Addr: strings.Trim(host, "[]"), Name: ClientName(r.Context())}
}

// clientNameKey is the context key of an authenticated client name.
type clientNameKey struct{}

// WithClientName returns a context carrying the authenticated client name,
// for authentication middleware in front of the proxy.
func WithClientName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, clientNameKey{}, name)
}

// ClientName returns the authenticated client name carried by ctx, "" if
// none.
func ClientName(ctx context.Context) string {
	s, _ := ctx.Value(clientNameKey{}).(string)
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return truncate(s, 300)
}
