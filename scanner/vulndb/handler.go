package vulndb

import (
	"bytes"
	"net/http"
	"strings"
)

// SnapshotSource returns the current snapshot, or nil before the first
// successful load. [Refresher] implements it.
type SnapshotSource interface {
	Current() *Snapshot
}

// Static is a [SnapshotSource] that always returns the same snapshot.
type Static struct{ S *Snapshot }

// Current returns s.S.
func (s Static) Current() *Snapshot { return s.S }

// Handler serves the current snapshot as a v1 vulnerability database, so
// that `govulncheck -db http://<modgate>/vulndb` works where only modgate
// is reachable. Paths are relative to the database root (mount it with
// http.StripPrefix): index/db.json, index/modules.json, index/vulns.json
// and ID/<id>.json, each also as .json.gz (what govulncheck's HTTP client
// reads; it probes index/modules.json.gz with HEAD first).
//
// Responses carry an ETag (content hash) and Last-Modified and honor
// conditional and HEAD requests. Before the first snapshot loads the
// handler answers 503 so clients retry rather than conclude "no
// vulnerabilities".
type Handler struct {
	Source SnapshotSource
}

// Cache lifetimes: indexes change with every refresh; an entry only when
// it is modified, and a stale entry is still consistent with its index
// for a while.
const (
	indexMaxAge = "public, max-age=300"
	entryMaxAge = "public, max-age=3600"
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if !validV1Path(p) {
		http.NotFound(w, r)
		return
	}
	s := h.Source.Current()
	if s == nil {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "vulnerability database not loaded yet", http.StatusServiceUnavailable)
		return
	}
	data, etag, mod, ok := s.file(p)
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	if strings.HasSuffix(p, ".gz") {
		hdr.Set("Content-Type", "application/gzip")
	} else {
		hdr.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(p, "index/") {
		hdr.Set("Cache-Control", indexMaxAge)
	} else {
		hdr.Set("Cache-Control", entryMaxAge)
	}
	hdr.Set("ETag", `"`+etag+`"`)
	// ServeContent handles HEAD, If-None-Match, If-Modified-Since and
	// ranges.
	http.ServeContent(w, r, "", mod, bytes.NewReader(data))
}

// validV1Path accepts only the canonical paths of the layout, so odd
// spellings (double slashes, dot segments) are 404 rather than aliases.
func validV1Path(p string) bool {
	base := strings.TrimSuffix(p, ".gz")
	switch base {
	case dbPath, modulesPath, vulnsPath:
		return true
	}
	id, ok := strings.CutPrefix(base, "ID/")
	if !ok {
		return false
	}
	id, ok = strings.CutSuffix(id, ".json")
	return ok && idPattern.MatchString(id) && !strings.Contains(id, "..")
}
