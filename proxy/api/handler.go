package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
)

// Handler serves the decision API. Mount it at /api/v1/ (with any path
// prefix stripped).
type Handler struct {
	// Decider decides, as it does for the proxy. Required.
	Decider proxy.Decider
	// Facts answers module facts. Required.
	Facts *facts.Service
	// Concurrency bounds parallel decisions of one request; 0 means 8.
	Concurrency int
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/api/v1") {
	case "/decisions":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, "use POST with a JSON body")
			return
		}
		h.serveDecisions(w, r)
	case "/module":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		h.serveModule(w, r)
	default:
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	}
}

func (h *Handler) concurrency() int {
	if h.Concurrency > 0 {
		return h.Concurrency
	}
	return 8
}

func client(r *http.Request) proxy.Client {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return proxy.Client{Name: proxy.ClientName(r.Context()), Addr: strings.Trim(host, "[]")}
}

func parseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case "":
		return proxy.KindZip, nil
	case proxy.KindInfo, proxy.KindMod, proxy.KindZip:
		return k, nil
	}
	return "", fmt.Errorf("unknown kind %q (want info, mod or zip)", s)
}

func (h *Handler) serveDecisions(w http.ResponseWriter, r *http.Request) {
	var req DecideRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed decision request: "+err.Error())
		return
	}
	if len(req.Modules) > MaxDecisionModules {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("too many modules: %d > %d", len(req.Modules), MaxDecisionModules))
		return
	}
	kind, err := parseKind(string(req.Kind))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := make([]Decision, len(req.Modules))
	c := client(r)
	g, ctx := errgroup.WithContext(r.Context())
	g.SetLimit(h.concurrency())
	for i, m := range req.Modules {
		g.Go(func() error {
			out[i] = h.decide(ctx, proxy.Query{Module: m.Path, Version: m.Version, Kind: kind, Client: c})
			return nil
		})
	}
	g.Wait()
	writeJSON(w, DecideResponse{Decisions: out})
}

// decide makes one decision; a version that cannot be decided carries the
// error instead (the caller fails closed on it).
func (h *Handler) decide(ctx context.Context, q proxy.Query) Decision {
	d := Decision{Path: q.Module, Version: q.Version}
	if err := module.Check(q.Module, q.Version); err != nil || module.CanonicalVersion(q.Version) != q.Version {
		d.Error = fmt.Sprintf("invalid module version %s@%s", q.Module, q.Version)
		return d
	}
	v, err := h.Decider.Decide(ctx, q)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	d.Deny, d.Warn, d.Audit, d.Suggest = v.Deny, v.Warn, v.Audit, v.Suggest
	d.Allowed = v.Allowed()
	return d
}

func (h *Handler) serveModule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	path, since := q.Get("path"), q.Get("since")
	if err := module.CheckPath(path); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("path %q: %v", path, err))
		return
	}
	if since != "" && !semver.IsValid(since) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("since %q is not a version", since))
		return
	}
	kind, err := parseKind(q.Get("kind"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	m, err := h.Facts.Module(ctx, path)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	c := client(r)
	out := Module{Path: path, Deprecated: m.Deprecation, VulnDB: h.Facts.VulnDBRevision()}
	pick, err := h.Decider.Latest(ctx, proxy.Query{Module: path, Kind: proxy.KindLatest, Client: c})
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	out.Latest, out.LatestAllowed = pick.Unfiltered, pick.Version
	vs := m.Versions
	if since != "" {
		i, found := slices.BinarySearchFunc(vs, since, semver.Compare)
		if found {
			i++
		}
		vs = vs[i:]
	}
	if len(vs) > MaxModuleVersions {
		vs, out.Truncated = vs[len(vs)-MaxModuleVersions:], true
	}
	out.Versions = make([]Version, len(vs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.concurrency())
	for i, v := range vs {
		g.Go(func() error {
			ver, err := h.version(gctx, m, v, kind, c)
			out.Versions[i] = ver
			return err
		})
	}
	if err := g.Wait(); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, out)
}

func (h *Handler) version(ctx context.Context, m *facts.Module, v string, kind Kind, c proxy.Client) (Version, error) {
	out := Version{Version: v}
	out.Retracted, out.Rationale = m.Retracted(v)
	t, err := h.Facts.Time(ctx, m.Path, v)
	if err != nil {
		return out, err
	}
	out.Time = t
	vulns, err := h.Facts.Vulns(ctx, m, v)
	if err != nil {
		return out, err
	}
	for _, x := range vulns {
		out.Vulns = append(out.Vulns, x.ID)
	}
	out.Decision = h.decide(ctx, proxy.Query{Module: m.Path, Version: v, Kind: kind, Client: c})
	return out, nil
}

// statusOf maps a fact-gathering failure to a status: the server could
// not answer (its upstream or database failed), which is not the client's
// fault.
func statusOf(err error) int {
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}
