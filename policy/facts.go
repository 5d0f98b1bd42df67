package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/singleflight"

	"github.com/modgate/modgate/proxy"
)

// ErrUnknown is returned by fact sources for facts they do not have yet
// (for example licenses of a version whose zip was never fetched). It is
// not a failure: the input records the fact as unavailable.
var ErrUnknown = errors.New("fact not known")

// Vuln is one vulnerability entry affecting a module version.
type Vuln struct {
	ID       string   `json:"id"`      // e.g. GO-2024-1234
	Aliases  []string `json:"aliases"` // CVE-..., GHSA-...
	Summary  string   `json:"summary"`
	Reviewed bool     `json:"reviewed"` // the entry's review status is REVIEWED
	// Fixed is the lowest version that fixes the range containing the
	// version asked about; "" if no fix exists.
	Fixed string `json:"fixed"`
}

// VulnSource supplies vulnerability facts. Implementations must be safe for
// concurrent use and fast (Vulns is called for older versions too when the
// cooldown fix exception is computed); withdrawn entries must be excluded.
// An error fails the decision closed.
type VulnSource interface {
	// Vulns returns the entries affecting module@version.
	Vulns(ctx context.Context, module, version string) ([]Vuln, error)
	// Snapshot identifies the database state; decisions made under
	// another snapshot are not reused. It is called on every decision,
	// cache hits included, so it must be cheap (an atomic load).
	Snapshot() string
}

// License is a license detected in a module version.
type License struct {
	ID   string `json:"id"`             // SPDX identifier
	File string `json:"file,omitempty"` // file it was found in, optional
}

// ModuleFacts supplies facts about modules from the proxy's view of the
// upstream. Implementations must be safe for concurrent use. Errors other
// than ErrUnknown fail the decision closed.
type ModuleFacts interface {
	// Versions returns the module's listed versions, in any order.
	Versions(ctx context.Context, module string) ([]string, error)
	// LatestGoMod returns the go.mod of the module's latest version, from
	// which the go command reads retractions and deprecation; ErrUnknown
	// when the module has no version to take it from.
	LatestGoMod(ctx context.Context, module string) ([]byte, error)
	// Licenses returns the licenses detected in module@version (empty
	// when none were found); ErrUnknown when they were not determined.
	// It is called on every uncached decision, list candidates included,
	// so it should answer from what is already known rather than fetch
	// a zip.
	Licenses(ctx context.Context, module, version string) ([]License, error)
}

// modFacts is what the engine derives from ModuleFacts per module.
type modFacts struct {
	versions    []string // sorted ascending
	latest      string   // version whose go.mod was read
	retract     []*modfile.Retract
	deprecation string
	deprecated  bool
	at          time.Time
}

// retraction reports whether v is retracted and the rationale.
func (m *modFacts) retraction(v string) (bool, string) {
	return proxy.Retracted(m.retract, v)
}

// olderAllowed returns the listed versions lower than v that count as
// "allowed" for update types and the cooldown fix exception, highest first:
// not retracted, and not pre-releases unless v is one.
func (m *modFacts) olderAllowed(v string) []string {
	pre := semver.Prerelease(v) != ""
	i, _ := slices.BinarySearchFunc(m.versions, v, semver.Compare)
	var out []string
	for j := i - 1; j >= 0; j-- {
		o := m.versions[j]
		if (!pre && semver.Prerelease(o) != "") || module.IsPseudoVersion(o) {
			continue
		}
		if r, _ := m.retraction(o); r {
			continue
		}
		out = append(out, o)
	}
	return out
}

// updateType classifies the step from prev to v.
func updateType(prev, v string) string {
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

// LatestVersion returns the version the go command takes retractions and
// deprecations from, given a module's listed versions in any order: the
// highest release, preferring compatible versions over +incompatible ones
// (as the go command does when a go.mod-aware version exists), else the
// highest pre-release; "" for no versions. The proxy's ModuleFacts should
// use it to pick the go.mod LatestGoMod returns.
func LatestVersion(versions []string) string {
	sorted := slices.Clone(versions)
	semver.Sort(sorted)
	pick := func(ok func(string) bool) string {
		for i := len(sorted) - 1; i >= 0; i-- {
			if ok(sorted[i]) {
				return sorted[i]
			}
		}
		return ""
	}
	release := func(v string) bool { return semver.Prerelease(v) == "" }
	compatible := func(v string) bool { return semver.Build(v) != "+incompatible" }
	for _, ok := range []func(string) bool{
		func(v string) bool { return release(v) && compatible(v) },
		release,
		compatible,
		func(string) bool { return true },
	} {
		if v := pick(ok); v != "" {
			return v
		}
	}
	return ""
}

// factCache caches modFacts per module for ttl, deduplicating concurrent
// loads (list filtering asks about many versions of one module at once).
type factCache struct {
	src ModuleFacts
	ttl time.Duration
	now func() time.Time

	group singleflight.Group
	mu    sync.Mutex // guards m
	m     map[string]*modFacts
}

// fresh reports whether mod's facts are cached and current (a decision
// would not wait for the upstream).
func (c *factCache) fresh(mod string) bool {
	if c.src == nil {
		return true
	}
	c.mu.Lock()
	f := c.m[mod]
	c.mu.Unlock()
	return f != nil && c.now().Sub(f.at) < c.ttl
}

func (c *factCache) get(ctx context.Context, mod string) (*modFacts, error) {
	if c.src == nil {
		return &modFacts{}, nil
	}
	now := c.now()
	c.mu.Lock()
	f := c.m[mod]
	c.mu.Unlock()
	if f != nil && now.Sub(f.at) < c.ttl {
		return f, nil
	}
	v, err, _ := c.group.Do(mod, func() (any, error) {
		// The load is shared by every concurrent decision about the
		// module, so one caller's cancellation must not fail the others;
		// the source's own timeouts bound it.
		f, err := loadModFacts(context.WithoutCancel(ctx), c.src, mod)
		if err != nil {
			return nil, err
		}
		f.at = now
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]*modFacts{}
		}
		if len(c.m) > 10000 {
			clear(c.m) // crude bound; entries are cheap to reload
		}
		c.m[mod] = f
		c.mu.Unlock()
		return f, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*modFacts), nil
}

func (c *factCache) invalidate(mod string) {
	c.mu.Lock()
	delete(c.m, mod)
	c.mu.Unlock()
}

func loadModFacts(ctx context.Context, src ModuleFacts, mod string) (*modFacts, error) {
	vs, err := src.Versions(ctx, mod)
	if err != nil {
		return nil, fmt.Errorf("%s: listing versions: %w", mod, err)
	}
	f := &modFacts{}
	for _, v := range vs {
		if semver.IsValid(v) {
			f.versions = append(f.versions, v)
		}
	}
	semver.Sort(f.versions)
	f.versions = slices.Compact(f.versions)
	f.latest = LatestVersion(f.versions)
	gomod, err := src.LatestGoMod(ctx, mod)
	if errors.Is(err, ErrUnknown) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading latest go.mod: %w", mod, err)
	}
	mf, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: parsing go.mod: %w", mod, f.latest, err)
	}
	f.retract = mf.Retract
	if mf.Module != nil {
		// As in the go command, an empty "Deprecated:" message is no
		// deprecation.
		f.deprecation = mf.Module.Deprecated
		f.deprecated = mf.Module.Deprecated != ""
	}
	return f, nil
}
