package facts

import (
	"context"
	"slices"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Pick is the outcome of a latest query.
type Pick struct {
	// Version is the chosen version; "" when no candidate was allowed.
	Version string
	// Unfiltered is the version the go command would pick if every
	// candidate were allowed (the newest candidate), "" when the module
	// has no candidate at all; messages name it when it was denied.
	Unfiltered string
	// Denied are the candidates tried and not allowed, newest first.
	Denied []string
}

// AllowFunc decides one candidate version of a latest query.
type AllowFunc func(ctx context.Context, version string) (bool, error)

// ResolveLatest runs the go command's @latest query over m: the highest
// release that is not retracted, else the highest such pre-release (both
// with the +incompatible rule), else the source's @latest when it is not
// retracted — taking, in that order, the first candidate allowed accepts.
// Candidates are tried newest first and the search stops at the first
// allowed one, so allowed sees no more versions than needed. A nil allowed
// accepts every candidate.
func (s *Service) ResolveLatest(ctx context.Context, m *Module, allowed AllowFunc) (Pick, error) {
	cands, err := s.latestCandidates(ctx, m)
	if err != nil {
		return Pick{}, err
	}
	var p Pick
	if len(cands) > 0 {
		p.Unfiltered = cands[0]
	}
	for _, v := range cands {
		ok := true
		if allowed != nil {
			if ok, err = allowed(ctx, v); err != nil {
				return Pick{}, err
			}
		}
		if ok {
			p.Version = v
			return p, nil
		}
		p.Denied = append(p.Denied, v)
	}
	return p, nil
}

// latestCandidates lists the @latest candidates in the order the go
// command prefers them.
func (s *Service) latestCandidates(ctx context.Context, m *Module) ([]string, error) {
	notRetracted := func(v string) bool { r, _ := m.Retracted(v); return !r }
	releases, pre, err := s.candidates(ctx, m, notRetracted)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(releases)+len(pre)+1)
	for _, vs := range [][]string{releases, pre} {
		c := slices.Clone(vs)
		slices.Reverse(c)
		out = append(out, c...)
	}
	info := m.pseudo
	if info == nil {
		if info, err = s.sourceLatest(ctx, m); err != nil {
			return nil, err
		}
	}
	if info != nil && notRetracted(info.Version) && !slices.Contains(out, info.Version) {
		out = append(out, info.Version)
	}
	return out, nil
}

// TaggedAbove returns the listed, non-retracted, non-pseudo versions of m
// above v, ascending, skipping pre-releases unless v is one: the versions
// a fix hint may name.
func (m *Module) TaggedAbove(v string) []string {
	i, found := slices.BinarySearchFunc(m.Versions, v, semver.Compare)
	if found {
		i++
	}
	pre := semver.Prerelease(v) != ""
	var out []string
	for _, o := range m.Versions[i:] {
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
