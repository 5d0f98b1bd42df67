// Package facts owns what modgate knows about a module, computed in one
// place for every entry point — the proxy's decisions and lists, the
// decision API, `modgate check`, `modgate policy eval`, and the update bot
// through the API — so that they cannot disagree:
//
//   - its listed versions, and its latest version exactly as the go command
//     computes it (the highest release, else pre-release, with the
//     +incompatible rule; else the source's @latest, typically a
//     pseudo-version), see [Module.Latest] and [Service.ResolveLatest];
//   - the retractions and deprecation read from that latest version's
//     go.mod, as the go command reads them;
//   - when modgate first saw each version and the release time a cooldown
//     measures from ([Service.Release]);
//   - the vulnerability entries affecting a version, with fixes named as
//     tagged versions where one exists ([Service.Vulns]);
//   - the licenses detected in a version's zip ([Service.Licenses]).
//
// Facts are read through a [Source], normally the verified module cache
// (package modcache), so every fact rests on verified files.
package facts

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modgate/modgate/internal/lru"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/singleflight"

	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/license"
)

// Source supplies the files facts are derived from. [modcache.Cache] is
// the implementation; errors matching upstream.ErrNotFound mean the file
// does not exist. Implementations must be safe for concurrent use.
type Source interface {
	// List returns the module's cached @v/list (refreshed per its TTL).
	List(ctx context.Context, mod string) (*modcache.List, error)
	// Refresh returns the list, refetched first if older than maxAge.
	Refresh(ctx context.Context, mod string, maxAge time.Duration) (*modcache.List, error)
	// Latest returns the source's @latest answer; RefreshLatest
	// refetches it first if older than maxAge.
	Latest(ctx context.Context, mod string) (modcache.Info, []byte, error)
	RefreshLatest(ctx context.Context, mod string, maxAge time.Duration) (modcache.Info, []byte, error)
	// Time returns a canonical version's .info time, fetching it once.
	Time(ctx context.Context, mod, version string) (time.Time, error)
	// CachedTime returns the .info time when the .info is cached.
	CachedTime(ctx context.Context, mod, version string) (time.Time, bool)
	// GoMod returns a version's verified go.mod.
	GoMod(ctx context.Context, mod, version string) ([]byte, error)
	// Zip opens a version's verified zip (an io.ReaderAt).
	Zip(ctx context.Context, mod, version string) (storage.Blob, error)
	// CachedZip opens the zip when it is cached, never fetching.
	CachedZip(ctx context.Context, mod, version string) (storage.Blob, bool, error)
	// ReadRecord and WriteRecord keep small module-level records (the
	// first-seen times) durable; a missing record matches fs.ErrNotExist.
	ReadRecord(ctx context.Context, mod, name string) ([]byte, error)
	WriteRecord(ctx context.Context, mod, name string, data []byte) error
}

// Service computes and caches module facts. Set the fields before the
// first call; it is safe for concurrent use.
type Service struct {
	// Source supplies the files. Required.
	Source Source
	// VulnDB supplies vulnerability facts. Nil means no vulnerability
	// facts (snapshot "none").
	VulnDB VulnDB
	// LicenseCache memoizes license detection. Nil means a private cache.
	LicenseCache *license.Cache
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger

	once    sync.Once
	loads   singleflight.Group
	modules *lru.Cache[string, *Module]
	seen    seenBook
}

// maxModules bounds the modules whose facts are held in memory; evicted
// ones reload from the cache on demand.
const maxModules = 50000

func (s *Service) init() {
	s.once.Do(func() {
		s.modules = lru.New[string, *Module](maxModules)
		s.seen.recs = lru.New[string, *seenRecord](maxModules)
		if s.LicenseCache == nil {
			s.LicenseCache = &license.Cache{}
		}
		s.seen.src, s.seen.log = s.Source, s.logger()
	})
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Module is what is known about one module as a whole. Values are shared
// and immutable: callers must not modify them.
type Module struct {
	// Path is the module path.
	Path string
	// Versions are the listed (tagged) canonical versions, ascending.
	Versions []string
	// Latest is the version the go command takes retractions and the
	// deprecation notice from: its "latest version ignoring
	// retractions". It may be a pseudo-version (from the source's
	// @latest) when nothing is tagged, and is "" when the module has no
	// version at all.
	Latest string
	// Retract are the retract directives of Latest's go.mod.
	Retract []*modfile.Retract
	// Deprecation is the message of Latest's "// Deprecated:" comment,
	// "" when the module is not deprecated.
	Deprecation string
	// Listed reports whether the source listed any tagged version.
	Listed bool
	// Unlisted is why the source gave no list (not found, or refused
	// with a 4xx), nil when it gave one.
	Unlisted error
	// Rev identifies these facts: anything derived from an older Rev of
	// the same module (a cached decision) is stale.
	Rev string

	list    *modcache.List // the list these facts were derived from
	pseudo  *modcache.Info // the source's @latest when nothing is tagged
	created time.Time      // modgate's first contact with the module
	loaded  time.Time      // when these facts were computed
}

// ListFetched is when the source last answered the list these facts come
// from; zero when the source has no list for the module.
func (m *Module) ListFetched() time.Time { return m.list.Fetched }

// Retracted reports whether v is retracted by the module's latest go.mod
// and the directive's rationale.

func (m *Module) Retracted(v string) (bool, string) {
	for _, r := range m.Retract {
		if semver.Compare(r.Low, v) <= 0 && semver.Compare(v, r.High) <= 0 {
			return true, r.Rationale
		}
	}
	return false, ""
}

// Previous returns the version an update to v is measured from: the
// highest listed version below v that is neither retracted nor a
// pseudo-version, counting pre-releases only when v is one; "" when there
// is none.
func (m *Module) Previous(v string) string {
	if older := m.OlderAllowed(v); len(older) > 0 {
		return older[0]
	}
	return ""
}

// OlderAllowed returns the listed versions below v that count as allowed
// predecessors (see [Module.Previous]), highest first.
func (m *Module) OlderAllowed(v string) []string {
	pre := semver.Prerelease(v) != ""
	i, _ := slices.BinarySearchFunc(m.Versions, v, semver.Compare)
	var out []string
	for j := i - 1; j >= 0; j-- {
		o := m.Versions[j]
		if (!pre && semver.Prerelease(o) != "") || module.IsPseudoVersion(o) {
			continue
		}
		if r, _ := m.Retracted(o); r {
			continue
		}
		out = append(out, o)
	}
	return out
}

// UpdateType classifies the step from the previous allowed version to v:
// "major", "minor", "patch", or "initial" when there is none.
func (m *Module) UpdateType(v string) string {
	return UpdateType(m.Previous(v), v)
}

// UpdateType classifies the step from prev to v: "major", "minor",
// "patch", or "initial" when prev is "".
func UpdateType(prev, v string) string {
	switch {
	case prev == "":
		return "initial"
	case semver.Major(prev) != semver.Major(v):
		return "major"
	case semver.MajorMinor(prev) != semver.MajorMinor(v):
		return "minor"
	}
	return "patch"
}

// Module returns the module's facts, recomputed when its cached list has
// changed. An upstream that has no such module, or refuses to list it
// (any 4xx), yields a module without versions; outages are errors.
func (s *Service) Module(ctx context.Context, path string) (*Module, error) {
	s.init()
	l, unlisted, err := s.list(ctx, path)
	if err != nil {
		return nil, err
	}
	m, _ := s.modules.Get(path)
	if m != nil && m.list == l && (m.Listed || s.now().Sub(m.loaded) < untaggedTTL) {
		return m, nil
	}
	v, err, _ := s.loads.Do(path, func() (any, error) {
		// The load is shared by every concurrent caller, so one
		// caller's cancellation must not fail the others; the source's
		// own timeouts bound it.
		m, err := s.load(context.WithoutCancel(ctx), path, l, unlisted)
		if err != nil {
			return nil, err
		}
		s.modules.Put(path, m)
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Module), nil
}

// Loaded reports whether the module's facts are in memory, so that a
// decision on it would not wait for the source.
func (s *Service) Loaded(path string) bool {
	s.init()
	_, ok := s.modules.Get(path)
	return ok
}

// noList stands for the list of a module the source does not list.
var noList = &modcache.List{}

// untaggedTTL is how long the facts of a module without tagged versions
// are reused: its latest version is the source's @latest, which moves
// without the list changing.
const untaggedTTL = time.Minute

// list returns the module's cached list, or noList and the reason when the
// source has no list for it.
func (s *Service) list(ctx context.Context, path string) (l *modcache.List, unlisted, err error) {
	l, err = s.Source.List(ctx, path)
	if err != nil {
		if refused(err) {
			return noList, err, nil
		}
		return nil, nil, fmt.Errorf("%s: listing versions: %w", path, err)
	}
	return l, nil, nil
}

// refused reports whether err means the source has, or gives, no such
// file: not found, or any other 4xx refusal (some upstreams answer 403
// for modules or versions they do not carry).
func refused(err error) bool {
	if errors.Is(err, upstream.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Status >= 400 && ue.Status < 500
}

// load computes a module's facts from its list l (noList, with the
// reason, when there is none).
func (s *Service) load(ctx context.Context, path string, l *modcache.List, unlisted error) (*Module, error) {
	m := &Module{Path: path, Versions: tagged(l.Versions), list: l, Unlisted: unlisted, loaded: s.now()}
	m.Listed = len(m.Versions) > 0
	latest, err := s.latestIgnoringRetractions(ctx, m)
	if err != nil {
		return nil, err
	}
	m.Latest = latest
	gomod := []byte(nil)
	if latest != "" {
		gomod, err = s.Source.GoMod(ctx, path, latest)
		switch {
		case refused(err):
			gomod = nil // no go.mod to read retractions from
		case err != nil:
			return nil, fmt.Errorf("%s@%s: reading the latest go.mod: %w", path, latest, err)
		}
	}
	if len(gomod) > 0 {
		f, err := modfile.ParseLax("go.mod", gomod, nil)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: parsing go.mod: %w", path, latest, err)
		}
		m.Retract = f.Retract
		if f.Module != nil {
			// As in the go command, an empty "Deprecated:" message is
			// no deprecation.
			m.Deprecation = f.Module.Deprecated
		}
	}
	rec, err := s.seen.observe(ctx, path, m.Versions, s.now().UTC())
	if err != nil {
		return nil, err
	}
	m.created = rec.Created
	m.Rev = revision(m, gomod)
	return m, nil
}

// tagged drops pseudo-versions from a list, as the go command does: a
// list names tags; pseudo-versions are reached only by @latest or by name.
func tagged(vs []string) []string {
	for _, v := range vs {
		if module.IsPseudoVersion(v) {
			return slices.DeleteFunc(slices.Clone(vs), module.IsPseudoVersion)
		}
	}
	return vs
}

// revision hashes the facts a decision depends on.
func revision(m *Module, gomod []byte) string {
	h := sha256.New()
	h.Write([]byte(strings.Join(m.Versions, "\n")))
	h.Write([]byte{0})
	h.Write([]byte(m.Latest))
	h.Write([]byte{0})
	h.Write(gomod)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// latestIgnoringRetractions picks the version whose go.mod the go command
// reads retractions from: the go command's "latest" query with nothing
// filtered out (cmd/go/internal/modload queryLatestVersionIgnoringRetractions).
func (s *Service) latestIgnoringRetractions(ctx context.Context, m *Module) (string, error) {
	releases, pre, err := s.candidates(ctx, m, func(string) bool { return true })
	if err != nil {
		return "", err
	}
	switch {
	case len(releases) > 0:
		return releases[len(releases)-1], nil
	case len(pre) > 0:
		return pre[len(pre)-1], nil
	case m.Unlisted != nil:
		// The source does not know the module: like the go command,
		// which stops when the list is not found, do not ask @latest
		// (that would double the upstream requests for unknown paths).
		return "", nil
	}
	info, err := s.sourceLatest(ctx, m)
	if err != nil || info == nil {
		return "", err
	}
	m.pseudo = info // m is not shared yet
	return info.Version, nil
}

// sourceLatest returns what the go command takes for latest when nothing
// is tagged: the source's @latest, else (as cmd/go's proxyRepo.Latest
// does when @latest is not found) the newest pseudo-version the list
// names; nil when there is neither.
func (s *Service) sourceLatest(ctx context.Context, m *Module) (*modcache.Info, error) {
	info, _, err := s.Source.Latest(ctx, m.Path)
	switch {
	case refused(err):
		return s.listedPseudo(ctx, m)
	case err != nil:
		return nil, fmt.Errorf("%s@latest: %w", m.Path, err)
	}
	if module.Check(m.Path, info.Version) != nil {
		return nil, fmt.Errorf("%s@latest: the upstream answered with invalid version %q", m.Path, info.Version)
	}
	return &info, nil
}

// listedPseudo returns the listed pseudo-version with the newest commit
// time, nil when the list names none.
func (s *Service) listedPseudo(ctx context.Context, m *Module) (*modcache.Info, error) {
	var best string
	var bestTime time.Time
	for _, v := range m.list.Versions {
		if t, err := module.PseudoVersionTime(v); err == nil && module.IsPseudoVersion(v) && t.After(bestTime) {
			best, bestTime = v, t
		}
	}
	if best == "" {
		return nil, nil
	}
	t, err := s.infoTime(ctx, m.Path, best)
	if err != nil {
		return nil, err
	}
	return &modcache.Info{Version: best, Time: cmp.Or(t, bestTime)}, nil
}

// candidates splits the listed versions that keep passes into releases and
// pre-releases, ascending, applying the go command's +incompatible rule:
// once a compatible version with a real go.mod exists, higher
// +incompatible versions are ignored (cmd/go filterVersions, go.dev/issue/34165).
func (s *Service) candidates(ctx context.Context, m *Module, keep func(string) bool) (releases, pre []string, err error) {
	needIncompatible := false
	var lastCompatible string
	for _, v := range m.Versions {
		if !keep(v) {
			continue
		}
		if !needIncompatible {
			if !strings.HasSuffix(v, "+incompatible") {
				lastCompatible = v
			} else if lastCompatible != "" {
				ok, err := s.hasGoMod(ctx, m.Path, lastCompatible)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					break
				}
				needIncompatible = true
			}
		}
		if semver.Prerelease(v) != "" {
			pre = append(pre, v)
		} else {
			releases = append(releases, v)
		}
	}
	return releases, pre, nil
}

// hasGoMod reports whether mod@v has a go.mod of its own, rather than the
// one proxies synthesize for pre-module versions.
func (s *Service) hasGoMod(ctx context.Context, mod, v string) (bool, error) {
	data, err := s.Source.GoMod(ctx, mod, v)
	if err != nil {
		return false, fmt.Errorf("%s@%s: reading go.mod: %w", mod, v, err)
	}
	legacy := "module " + modfile.AutoQuote(mod) + "\n"
	return string(data) != legacy, nil
}
