package facts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/scanner/license"
	"github.com/modgate/modgate/scanner/vulndb"
)

// VulnDB supplies the vulnerability database snapshot in force.
// [vulndb.Refresher] and [vulndb.Static] implement it.
type VulnDB interface {
	// Current returns the snapshot in force, nil before the first load.
	Current() *vulndb.Snapshot
}

// Vuln is one vulnerability entry affecting a module version.
type Vuln struct {
	ID       string   `json:"id"`      // e.g. GO-2024-1234
	Aliases  []string `json:"aliases"` // CVE-..., GHSA-...
	Summary  string   `json:"summary"`
	Reviewed bool     `json:"reviewed"` // the entry's review status is REVIEWED
	// Fixed is the lowest version that fixes the range containing the
	// version asked about, named as the lowest listed tag at or above the
	// entry's fix when there is one (entries often name an untagged
	// pseudo-version); "" if no fix exists.
	Fixed string `json:"fixed"`
}

// ErrNoVulnDB means the vulnerability database has not loaded yet;
// decisions fail closed until it has, since no version can be cleared.
var ErrNoVulnDB = errors.New("the vulnerability database is not loaded yet; retry shortly")

// VulnDBRevision identifies the vulnerability database snapshot facts come
// from: "none" without a database, "loading" before the first load.
func (s *Service) VulnDBRevision() string {
	if s.VulnDB == nil {
		return "none"
	}
	if snap := s.VulnDB.Current(); snap != nil {
		return snap.ID
	}
	return "loading"
}

// Vulns returns the entries affecting m.Path@version (withdrawn entries
// excluded), sorted by ID.
func (s *Service) Vulns(ctx context.Context, m *Module, version string) ([]Vuln, error) {
	if s.VulnDB == nil {
		return nil, nil
	}
	snap := s.VulnDB.Current()
	if snap == nil {
		return nil, fmt.Errorf("%s@%s: %w", m.Path, version, ErrNoVulnDB)
	}
	ms, err := snap.Affects(m.Path, version)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: vulnerabilities: %w", m.Path, version, err)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	out := make([]Vuln, 0, len(ms))
	for _, x := range ms {
		out = append(out, Vuln{ID: x.ID, Aliases: x.Aliases, Summary: x.Summary,
			Reviewed: x.ReviewStatus == vulndb.ReviewStatusReviewed, Fixed: m.taggedFix(x.Fixed)})
	}
	slices.SortFunc(out, func(a, b Vuln) int { return cmpString(a.ID, b.ID) })
	return out, nil
}

// taggedFix names a fix as the lowest listed tag at or above it, so a
// hint never sends a developer to an untagged commit when a release
// contains the fix; fix itself when no listed tag does.
func (m *Module) taggedFix(fix string) string {
	if fix == "" || slices.Contains(m.Versions, fix) {
		return fix
	}
	for _, v := range m.Versions {
		if semver.Compare(v, fix) >= 0 && semver.Prerelease(v) == "" {
			return v
		}
	}
	return fix
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// License statuses.
const (
	LicensesDetected    = "detected"    // scanned, licenses found
	LicensesNone        = "none"        // scanned, nothing found
	LicensesUnavailable = "unavailable" // not scanned
)

// Licenses returns the SPDX IDs detected in mod@version's zip (sorted,
// without duplicates) and the status. With fetch the zip is downloaded
// (verified and cached) when needed; without, a zip not cached yet gives
// LicensesUnavailable.
func (s *Service) Licenses(ctx context.Context, mod, version string, fetch bool) ([]string, string, error) {
	s.init()
	if r, ok := s.LicenseCache.Get(mod, version); ok {
		return licenseIDs(r)
	}
	b, ok, err := s.Source.CachedZip(ctx, mod, version)
	if err != nil {
		return nil, "", fmt.Errorf("%s@%s: licenses: %w", mod, version, err)
	}
	if !ok && fetch {
		if b, err = s.Source.Zip(ctx, mod, version); err != nil {
			return nil, "", fmt.Errorf("%s@%s: licenses: %w", mod, version, err)
		}
		ok = true
	}
	if !ok {
		return nil, LicensesUnavailable, nil
	}
	defer b.Close()
	ra, isRA := b.(io.ReaderAt)
	if !isRA {
		return nil, LicensesUnavailable, nil
	}
	r, err := s.LicenseCache.Detect(mod, version, ra, b.Size())
	if err != nil {
		return nil, "", fmt.Errorf("%s@%s: license detection: %w", mod, version, err)
	}
	return licenseIDs(r)
}

func licenseIDs(r *license.Result) ([]string, string, error) {
	if len(r.IDs) == 0 {
		return nil, LicensesNone, nil
	}
	ids := slices.Clone(r.IDs)
	slices.Sort(ids)
	return slices.Compact(ids), LicensesDetected, nil
}
