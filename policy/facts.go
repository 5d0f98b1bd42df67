package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
)

// Vuln is one vulnerability entry affecting a module version; it is the
// facts service's type.
type Vuln = facts.Vuln

// input gathers the facts for req from the facts service into the input
// document. Every entry point (the proxy, the decision API, modgate check,
// modgate policy eval) comes through here, so the same module version gets
// the same facts everywhere.
func (e *Engine) input(ctx context.Context, st *compiled, m *facts.Module, req Request, rel facts.Release, now time.Time, snap string) (Input, error) {
	in := Input{
		Module:        req.Module,
		Version:       req.Version,
		Kind:          req.Kind,
		Now:           now,
		Client:        req.Client.ID(),
		VulnDB:        snap,
		LicenseStatus: facts.LicensesUnavailable,
	}
	in.setVersionFlags()
	wrap := func(what string, err error) error {
		return fmt.Errorf("%s@%s: %s: %w", req.Module, req.Version, what, err)
	}
	in.Time, in.FirstSeen, in.Initial = rel.Time, rel.FirstSeen, rel.Initial
	in.Released, in.ReleaseBasis = rel.At, rel.Basis
	in.Latest = m.Latest
	in.Retracted, in.RetractionRationale = m.Retracted(req.Version)
	in.Deprecated, in.Deprecation = m.Deprecation != "", m.Deprecation
	older := m.OlderAllowed(req.Version)
	if len(older) > 0 {
		in.Update.Previous = older[0]
	}
	in.Update.Type = facts.UpdateType(in.Update.Previous, req.Version)

	var err error
	if in.Vulns, err = e.facts.Vulns(ctx, m, req.Version); err != nil {
		return in, err
	}
	base := in.Released
	if base.IsZero() {
		base = now
	}
	// The fix exception matters only while some cooldown can apply.
	if st.maxCooldown > 0 && now.Sub(base) < st.maxCooldown {
		if in.Fixes, err = e.fixes(ctx, m, in.Vulns, older); err != nil {
			return in, wrap("vulnerabilities of older versions", err)
		}
	}
	in.VEX = vexInput(st.vex, st.vexMaxAge, req.Module, req.Version)
	// A zip decision reads the zip's licenses (fetching it if need be)
	// when a rule uses them; list candidates never wait for a zip.
	fetch := req.Kind == proxy.KindZip && st.needsLicenses
	lics, status, err := e.facts.Licenses(ctx, req.Module, req.Version, fetch)
	if err != nil {
		return in, err
	}
	in.Licenses, in.LicenseStatus = lics, status
	return in, nil
}

// fixes returns the entries that affect every version in older (highest
// first) but not the version whose entries are own.
func (e *Engine) fixes(ctx context.Context, m *facts.Module, own []Vuln, older []string) ([]Vuln, error) {
	if len(older) == 0 {
		return nil, nil
	}
	first, err := e.facts.Vulns(ctx, m, older[0])
	if err != nil {
		return nil, err
	}
	cand := map[string]Vuln{}
	for _, v := range first {
		cand[v.ID] = v
	}
	for _, v := range own {
		delete(cand, v.ID)
	}
	for _, o := range older[1:] {
		if len(cand) == 0 {
			break
		}
		vs, err := e.facts.Vulns(ctx, m, o)
		if err != nil {
			return nil, err
		}
		present := make(map[string]bool, len(vs))
		for _, v := range vs {
			present[v.ID] = true
		}
		for id := range cand {
			if !present[id] {
				delete(cand, id)
			}
		}
	}
	out := make([]Vuln, 0, len(cand))
	for _, v := range cand {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Vuln) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
