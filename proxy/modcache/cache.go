// Package modcache owns modgate's verified module cache: every .info,
// .mod and .zip is fetched from a source at most once, verified, and
// committed to storage before anyone sees it; @v/list and @latest answers
// are cached for a TTL, refreshed in the background when stale and served
// stale when the source fails.
//
// Invariants:
//
//   - Module paths and versions are passed in decoded form; escaping
//     happens only here, for storage keys and source paths.
//   - Nothing reaches storage unless it was verified: zips with
//     golang.org/x/mod/zip, go.mod module lines against the path, and both
//     h1 hashes against the checksum database (unless the module is
//     private).
//   - An artifact is visible only once the version's commit record lists
//     it with its size and hashes; a crash between writing the artifact and
//     its record leaves it invisible.
//   - Concurrent misses for one artifact share one fetch, which is
//     cancelled only when its last waiter leaves.
//
// The HTTP protocol lives in package proxy; facts derived from the cached
// files (latest versions, retractions, ages) live in package facts.
package modcache

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/internal/modpath"
	"github.com/modgate/modgate/proxy/storage"
)

// Kind is the kind of file of the module proxy protocol.
type Kind string

// The file kinds of the module proxy protocol.
const (
	KindList   Kind = "list"   // $module/@v/list
	KindInfo   Kind = "info"   // $module/@v/$version.info
	KindMod    Kind = "mod"    // $module/@v/$version.mod
	KindZip    Kind = "zip"    // $module/@v/$version.zip
	KindLatest Kind = "latest" // $module/@latest
)

// Source is where the cache gets modules: the go command's operations on
// a module proxy, with decoded paths and versions. [upstream.Client]
// implements it over a GOPROXY list. Errors that match
// upstream.ErrNotFound mean the module or version does not exist; a
// Source retries transient failures itself.
type Source interface {
	// List returns the @v/list answer.
	List(ctx context.Context, mod string) ([]byte, error)
	// Latest returns the @latest answer.
	Latest(ctx context.Context, mod string) ([]byte, error)
	// Info returns the .info of a version or of a query (a branch name,
	// a commit prefix) that the source resolves.
	Info(ctx context.Context, mod, version string) ([]byte, error)
	// GoMod returns the .mod of a version.
	GoMod(ctx context.Context, mod, version string) ([]byte, error)
	// Zip writes the .zip of a version to dst, from its start, and
	// returns its size. A failed attempt may leave data in dst.
	Zip(ctx context.Context, mod, version string, dst *os.File) (int64, error)
}

// Cache is the verified module cache. Set the fields, then call methods;
// fields must not change after the first call. It is safe for concurrent
// use.
type Cache struct {
	// Upstream fetches from the public upstream list. Nil means
	// cache-only: misses are not found.
	Upstream Source
	// Private holds GONOPROXY-style patterns of module paths that must
	// never be requested from Upstream (nor looked up in the checksum
	// database: set the Verifier's NoSumDB to include them).
	Private string
	// PrivateUpstream fetches modules matching Private. Nil means such
	// modules are served from the cache only.
	PrivateUpstream Source
	// Verifier checks every fetched .mod and .zip. It must be set (use a
	// Verifier with a nil DB to disable database checks).
	Verifier *checksum.Verifier
	// Store holds verified artifacts and metadata.
	Store storage.Storage
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
	// SyncStale makes a stale list or @latest be refetched before the
	// answer instead of in the background: for one-shot commands, which
	// exit before a background refresh would land. (A failing source
	// still gets the stale answer.)
	SyncStale bool
	// OnMiss, if set, is called in the background with the module path
	// whenever an artifact must be fetched, so that callers can load what
	// they will need about the module (its list, its latest go.mod) while
	// the download runs instead of after it.
	OnMiss func(ctx context.Context, module string)

	once     sync.Once
	files    *artifactCache
	flights  flightGroup
	meta     *metaCache
	negative *negativeCache
	lastUpOK atomic.Int64 // unix nanos of the last upstream answer (any status)
	scratch  func() (*os.File, error)
	inflight sync.WaitGroup
	paths    modpath.Checks
}

func (c *Cache) init() {
	c.once.Do(func() {
		c.files = newArtifactCache(c.Store)
		c.meta = newMetaCache()
		c.negative = newNegativeCache()
		c.scratch = scratchFunc(c.Store)
	})
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Cache) listTTL() time.Duration {
	if c.ListTTL > 0 {
		return c.ListTTL
	}
	return time.Minute
}

func (c *Cache) notFoundTTL() time.Duration {
	if c.NotFoundTTL == 0 {
		return time.Minute
	}
	return c.NotFoundTTL
}

// IsPrivate reports whether path matches the Private patterns.
func (c *Cache) IsPrivate(path string) bool {
	return c.Private != "" && module.MatchPrefixPatterns(c.Private, path)
}

// sourceFor returns the source allowed to see path, or nil.
func (c *Cache) sourceFor(path string) Source {
	if c.IsPrivate(path) {
		return c.PrivateUpstream
	}
	return c.Upstream
}

// Wait blocks until background work (list refreshes, OnMiss calls) has
// finished; it is for graceful shutdown and tests.
func (c *Cache) Wait() { c.inflight.Wait() }

// ref names one file of one module version, decoded and escaped.
type ref struct {
	mod, ver string // decoded
	ep, ev   string // escaped
	kind     Kind
}

// ref escapes mod@ver for kind; the error wraps the module error.
func (c *Cache) ref(mod, ver string, kind Kind) (ref, error) {
	ep, ev, err := c.paths.Escape(mod, ver)
	if err != nil {
		return ref{}, &RequestError{Module: mod, Version: ver, Err: err}
	}
	return ref{mod: mod, ver: ver, ep: ep, ev: ev, kind: kind}, nil
}

// Info is the content of a .info file that modgate reads.
type Info struct {
	Version string
	Time    time.Time
}
