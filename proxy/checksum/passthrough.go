package checksum

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// Passthrough serves the checksum database protocol under
// /sumdb/<name>/ ("supported", "latest", "lookup/...", "tile/..."), byte
// for byte from the database the [Verifier] uses. Lookups and tiles are
// immutable and cached in storage; "latest" is cached for LatestTTL and
// served stale when the database is unreachable. Other names get 404, so
// clients fall back to their own route to that database.
type Passthrough struct {
	// Verifier supplies the database and the route to it.
	Verifier *Verifier
	// LatestTTL is how long a fetched signed tree head is served before
	// it is refetched. Zero means 30s.
	LatestTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger

	// mu protects latest and latestAt.
	mu       sync.Mutex
	latest   []byte
	latestAt time.Time
}

func (p *Passthrough) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Passthrough) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// ServeHTTP serves r.URL.Path, which must start with "/sumdb/".
func (p *Passthrough) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		textError(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/")
	v := p.Verifier
	if !ok || v == nil || v.DB == nil {
		textError(w, r, http.StatusNotFound, "no checksum database is proxied here")
		return
	}
	v.init()
	name := v.DB.Name
	sub, ok := strings.CutPrefix(rest, name+"/")
	if !ok {
		textError(w, r, http.StatusNotFound, "unknown checksum database; this proxy serves only "+name)
		return
	}
	switch {
	case sub == "supported":
		w.WriteHeader(http.StatusOK)
	case sub == "latest":
		p.serveLatest(w, r)
	case strings.HasPrefix(sub, "lookup/"), strings.HasPrefix(sub, "tile/"):
		if err := storage.CheckKey(sub); err != nil || strings.ContainsAny(sub, "?#") {
			textError(w, r, http.StatusBadRequest, "malformed checksum database path")
			return
		}
		if lookup, ok := strings.CutPrefix(sub, "lookup/"); ok {
			mod, err := lookupPath(lookup)
			if err != nil {
				textError(w, r, http.StatusBadRequest, "malformed checksum database lookup: "+err.Error())
				return
			}
			if v.Private(mod) {
				// Forwarding would tell the public database (and the
				// upstream) the private path.
				textError(w, r, http.StatusNotFound, mod+" is private here: modgate never looks it up in the public checksum database.\nAdd it to GONOSUMDB (or GOPRIVATE) in the go command's environment.")
				return
			}
		}
		p.serveImmutable(w, r, sub)
	default:
		textError(w, r, http.StatusNotFound, "unknown checksum database path")
	}
}

func (p *Passthrough) serveLatest(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	data, at := p.latest, p.latestAt
	p.mu.Unlock()
	ttl := p.LatestTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	if data == nil || p.now().Sub(at) >= ttl {
		fresh, err := p.Verifier.ops.Remote(r.Context(), "/latest")
		switch {
		case err == nil:
			data = fresh
			p.mu.Lock()
			p.latest, p.latestAt = fresh, p.now()
			p.mu.Unlock()
		case data != nil:
			// Serving an older signed tree head is safe: clients
			// verify it and will accept any consistent tree.
			p.logger().Warn("checksum database unreachable, serving stale latest", "err", err)
		default:
			p.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "public, max-age=30")
	serveBytes(w, r, data)
}

func (p *Passthrough) serveImmutable(w http.ResponseWriter, r *http.Request, sub string) {
	key := "sumdb/" + p.Verifier.DB.Name + "/pass/" + sub
	store := p.Verifier.Store
	if store != nil {
		b, err := store.Get(r.Context(), key)
		if err != nil {
			// The verifier's own client cached the same lookups and
			// tiles while checking downloads: a go client verifying
			// what modgate just served needs no upstream round trip.
			b, err = store.Get(r.Context(), p.Verifier.ops.cacheKey(p.Verifier.DB.Name+"/"+sub))
		}
		if err == nil {
			defer b.Close()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
			http.ServeContent(w, r, "", b.ModTime(), b)
			return
		}
	}
	data, err := p.Verifier.ops.Remote(r.Context(), "/"+sub)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if store != nil {
		// Partial tiles (".p/W") are immutable too: their content is fixed
		// by the width in the path.
		if err := store.Put(context.WithoutCancel(r.Context()), key, bytes.NewReader(data)); err != nil {
			p.logger().Warn("checksum database cache write failed", "path", sub, "err", err)
		}
	}
	w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
	serveBytes(w, r, data)
}

func (p *Passthrough) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.NotFound() {
		// The database says it has no such record (for example an
		// unknown module version): pass that through.
		textError(w, r, ue.Status, "not found in checksum database")
		return
	}
	p.logger().Error("checksum database request failed", "path", r.URL.Path, "err", err)
	status := http.StatusBadGateway
	if errors.As(err, &ue) && ue.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		status = http.StatusGatewayTimeout
	}
	textError(w, r, status, "checksum database unreachable through modgate: "+firstLine(err.Error()))
}

// lookupPath returns the decoded module path of a lookup
// "<escaped path>@<escaped version>".
func lookupPath(lookup string) (string, error) {
	escPath, escVer, ok := strings.Cut(lookup, "@")
	if !ok {
		return "", errors.New("want <module>@<version>")
	}
	mod, err := module.UnescapePath(escPath)
	if err != nil {
		return "", err
	}
	if _, err := module.UnescapeVersion(escVer); err != nil {
		return "", err
	}
	return mod, nil
}

func serveBytes(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func textError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, msg+"\n")
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
