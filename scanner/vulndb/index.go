package vulndb

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// bound is an end of a version interval: a version, or minus/plus
// infinity.
type bound struct {
	inf int8 // -1: below every version; +1: above every version; 0: v
	v   semv
}

var (
	minusInf = bound{inf: -1}
	plusInf  = bound{inf: +1}
)

func (a bound) compare(b bound) int {
	if a.inf != 0 || b.inf != 0 {
		return int(a.inf) - int(b.inf) // equal infinities compare equal
	}
	return a.v.compare(b.v)
}

// cmpVersion compares a bound with a (finite) version.
func (a bound) cmpVersion(v semv) int {
	if a.inf != 0 {
		return int(a.inf)
	}
	return a.v.compare(v)
}

// interval is the half-open version interval [lo, hi) in which one entry
// affects one module.
type interval struct {
	lo, hi bound
	ref    int32 // index into Index.refs
}

// moduleIndex holds the intervals of one module, sorted by lo, with the
// running maximum of hi so a lookup can stop as soon as no earlier interval
// can reach the queried version.
type moduleIndex struct {
	ivs   []interval
	maxHi []bound
}

// entryRef is one (entry, module) pair: what a hit reports.
type entryRef struct {
	entry  *Entry
	module string
	// ranges are the intervals of the entry's SEMVER ranges for the module;
	// fixes are its fixed versions, sorted. Both serve [fixedFor].
	ranges []interval
	fixes  []fixVersion
}

// fixVersion is a fixed version, parsed and as written ("v"-prefixed, build
// metadata such as +incompatible kept, as govulncheck reports it).
type fixVersion struct {
	v semv
	s string
}

// Index maps module paths to the entries affecting them, with parsed
// version ranges. It is immutable once built and safe for concurrent use.
type Index struct {
	modules map[string]*moduleIndex
	refs    []entryRef
	byID    map[string]*Entry
}

// Match is one entry affecting a queried module version.
type Match struct {
	ID string `json:"id"`
	// Aliases are the entry's other IDs (CVE-…, GHSA-…).
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	// ReviewStatus is "REVIEWED", "UNREVIEWED" or "" (not stated).
	ReviewStatus string `json:"review_status,omitempty"`
	// Module is the module path the entry names: the queried module, or
	// "stdlib"/"toolchain" for a Go version or a golang.org/toolchain
	// version.
	Module string `json:"module"`
	// Fixed is the earliest version above the queried one that the entry
	// fixes and that is not itself affected, "v"-prefixed as written in
	// the entry (so "+incompatible" is kept, and the Go pseudo-modules get
	// "v1.21.2" rather than "go1.21.2"); "" when no such fix exists. It is
	// what govulncheck reports, except for an entry naming the module in
	// several affected blocks: govulncheck then considers only the blocks
	// covering the version and may name a fix another block still covers;
	// Fixed never names a version the entry affects, so the proxy can
	// offer it as the way out.
	Fixed string `json:"fixed,omitempty"`
	// Withdrawn is true only in results of [Index.Explain].
	Withdrawn bool `json:"withdrawn,omitempty"`
	// Entry is the full entry; callers must not modify it.
	Entry *Entry `json:"entry"`
}

// newIndex builds the index of entries. Entries must be normalized
// (see parseEntry); an unparsable version is an error.
func newIndex(entries []*Entry) (*Index, error) {
	ix := &Index{
		modules: make(map[string]*moduleIndex),
		byID:    make(map[string]*Entry, len(entries)),
	}
	for _, e := range entries {
		ix.byID[e.ID] = e
		// Group affected blocks by module: an entry may list a module
		// more than once (different packages), and govulncheck then
		// treats their ranges as one union.
		var mods []string
		for _, a := range e.Affected {
			if !slices.Contains(mods, a.Module.Path) {
				mods = append(mods, a.Module.Path)
			}
		}
		for _, mod := range mods {
			ref := entryRef{entry: e, module: mod}
			all := false
			for _, a := range e.Affected {
				if a.Module.Path != mod {
					continue
				}
				ivs, fixes, semverSeen, err := rangesIntervals(a.Ranges)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", e.ID, mod, err)
				}
				if !semverSeen {
					all = true
				}
				ref.ranges = append(ref.ranges, ivs...)
				ref.fixes = append(ref.fixes, fixes...)
			}
			slices.SortStableFunc(ref.fixes, func(a, b fixVersion) int { return a.v.compare(b.v) })
			id := int32(len(ix.refs))
			ix.refs = append(ix.refs, ref)
			mi := ix.modules[mod]
			if mi == nil {
				mi = new(moduleIndex)
				ix.modules[mod] = mi
			}
			// Withdrawn entries are indexed like any other so Explain
			// can report them; lookup skips them for Affects.
			var ivs []interval
			if all {
				ivs = []interval{{lo: minusInf, hi: plusInf}}
			} else {
				ivs = mergeIntervals(slices.Clone(ref.ranges))
			}
			for _, iv := range ivs {
				iv.ref = id
				mi.ivs = append(mi.ivs, iv)
			}
		}
	}
	for _, mi := range ix.modules {
		sort.SliceStable(mi.ivs, func(i, j int) bool { return mi.ivs[i].lo.compare(mi.ivs[j].lo) < 0 })
		mi.maxHi = make([]bound, len(mi.ivs))
		max := minusInf
		for i, iv := range mi.ivs {
			if iv.hi.compare(max) > 0 {
				max = iv.hi
			}
			mi.maxHi[i] = max
		}
		mi.ivs = slices.Clip(mi.ivs)
	}
	return ix, nil
}

// mergeIntervals returns the union of ivs as disjoint intervals, so that
// a version hits at most one interval per (entry, module) and lookups need
// no deduplication.
func mergeIntervals(ivs []interval) []interval {
	slices.SortFunc(ivs, func(a, b interval) int { return a.lo.compare(b.lo) })
	var out []interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.lo.compare(out[n-1].hi) <= 0 {
			if iv.hi.compare(out[n-1].hi) > 0 {
				out[n-1].hi = iv.hi
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// rangesIntervals converts the SEMVER ranges of one affected block into
// intervals. It mirrors govulncheck: events are sorted by version (with
// introduced "0" first) and swept, an introduced event opening an interval
// unless one is open and a fixed event closing the open one; a range with
// no events covers every version. semverSeen reports whether any range was
// of type SEMVER (when none is, every version is affected).
func rangesIntervals(ranges []Range) (ivs []interval, fixes []fixVersion, semverSeen bool, err error) {
	type event struct {
		b     bound
		fixed bool
	}
	for _, r := range ranges {
		if r.Type != rangeSemver {
			continue
		}
		semverSeen = true
		if len(r.Events) == 0 {
			ivs = append(ivs, interval{lo: minusInf, hi: plusInf})
			continue
		}
		evs := make([]event, 0, len(r.Events))
		for _, e := range r.Events {
			switch {
			case e.Introduced == "0":
				evs = append(evs, event{b: minusInf})
			case e.Introduced != "":
				v, ok := parseSemver("v" + e.Introduced)
				if !ok {
					return nil, nil, false, fmt.Errorf("invalid version %q", e.Introduced)
				}
				evs = append(evs, event{b: bound{v: v}})
			case e.Fixed != "":
				v, ok := parseSemver("v" + e.Fixed)
				if !ok {
					return nil, nil, false, fmt.Errorf("invalid version %q", e.Fixed)
				}
				evs = append(evs, event{b: bound{v: v}, fixed: true})
				fixes = append(fixes, fixVersion{v: v, s: "v" + e.Fixed})
			}
		}
		slices.SortStableFunc(evs, func(a, b event) int { return a.b.compare(b.b) })
		open := false
		var lo bound
		for _, ev := range evs {
			switch {
			case !ev.fixed && !open:
				open, lo = true, ev.b
			case ev.fixed && open:
				open = false
				ivs = append(ivs, interval{lo: lo, hi: ev.b})
			}
		}
		if open {
			ivs = append(ivs, interval{lo: lo, hi: plusInf})
		}
	}
	return ivs, fixes, semverSeen, nil
}

// InvalidVersionError reports a version Affects cannot interpret.
type InvalidVersionError struct {
	Module, Version string
}

func (e *InvalidVersionError) Error() string {
	return e.Module + "@" + e.Version + ": not a valid semantic version"
}

// Affects returns the entries that affect module at exactly version,
// sorted by ID. Withdrawn entries never match.
//
// version is a canonical module version (pseudo-versions, "+incompatible"
// and prereleases compare as semver says; build metadata is ignored). For
// the "stdlib" and "toolchain" pseudo-modules it may also be a Go version
// ("go1.21.3"); for golang.org/toolchain ("v0.0.1-go1.21.3.linux-amd64")
// the Go version is checked against both pseudo-modules.
//
// When nothing matches, Affects returns nil without allocating. An error
// means version could not be read as a version (a *InvalidVersionError).
func (ix *Index) Affects(module, version string) ([]Match, error) {
	return ix.affects(module, version, false)
}

// Explain is [Index.Affects] including withdrawn entries, which are marked
// Withdrawn: it tells why a version would have been flagged.
func (ix *Index) Explain(module, version string) ([]Match, error) {
	return ix.affects(module, version, true)
}

func (ix *Index) affects(module, version string, withdrawn bool) ([]Match, error) {
	if ix == nil {
		return nil, nil
	}
	switch module {
	case StdlibModule, ToolchainModule:
		v, ok := goOrSemver(version)
		if !ok {
			return nil, &InvalidVersionError{module, version}
		}
		return ix.lookup(nil, module, v, withdrawn), nil
	case GoToolchainModule:
		gov, ok := toolchainGoVersion(version)
		if !ok {
			return nil, &InvalidVersionError{module, version}
		}
		v, ok := goOrSemver(gov)
		if !ok {
			return nil, &InvalidVersionError{module, version}
		}
		ms := ix.lookup(nil, StdlibModule, v, withdrawn)
		ms = ix.lookup(ms, ToolchainModule, v, withdrawn)
		sortMatches(ms)
		return ms, nil
	}
	v, ok := parseSemver(version)
	if !ok {
		return nil, &InvalidVersionError{module, version}
	}
	return ix.lookup(nil, module, v, withdrawn), nil
}

func goOrSemver(version string) (semv, bool) {
	if strings.HasPrefix(version, "go") {
		version = GoVersionToSemver(version)
	}
	return parseSemver(version)
}

// lookup appends to ms the matches of module at v. It walks the
// intervals with lo <= v from the right and stops once the running maximum
// of hi shows no earlier interval reaches v.
func (ix *Index) lookup(ms []Match, module string, v semv, withdrawn bool) []Match {
	mi := ix.modules[module]
	if mi == nil {
		return ms
	}
	// n = number of intervals with lo <= v.
	n := sort.Search(len(mi.ivs), func(i int) bool { return mi.ivs[i].lo.cmpVersion(v) > 0 })
	start := len(ms)
	for i := n - 1; i >= 0; i-- {
		if mi.maxHi[i].cmpVersion(v) <= 0 {
			break
		}
		iv := mi.ivs[i]
		if iv.hi.cmpVersion(v) <= 0 {
			continue
		}
		// Intervals of one (entry, module) are disjoint (mergeIntervals),
		// so each hit is a distinct entry.
		ref := &ix.refs[iv.ref]
		if ref.entry.Withdrawn != nil && !withdrawn {
			continue
		}
		e := ref.entry
		ms = append(ms, Match{
			ID:           e.ID,
			Aliases:      e.Aliases,
			Summary:      e.Summary,
			ReviewStatus: e.ReviewStatus(),
			Module:       module,
			Fixed:        ref.fixedFor(v),
			Withdrawn:    e.Withdrawn != nil,
			Entry:        e,
		})
	}
	sortMatches(ms[start:])
	return ms
}

func sortMatches(ms []Match) {
	if len(ms) > 1 {
		slices.SortFunc(ms, func(a, b Match) int {
			if c := strings.Compare(a.ID, b.ID); c != 0 {
				return c
			}
			return strings.Compare(a.Module, b.Module)
		})
	}
}

// fixedFor returns the earliest fixed version above v that no range of the
// entry covers, as govulncheck computes it.
func (r *entryRef) fixedFor(v semv) string {
	for _, f := range r.fixes {
		if f.v.compare(v) <= 0 {
			continue
		}
		negated := false
		for _, iv := range r.ranges {
			if iv.lo.cmpVersion(f.v) <= 0 && iv.hi.cmpVersion(f.v) > 0 {
				negated = true
				break
			}
		}
		if !negated {
			return f.s
		}
	}
	return ""
}

// Entry returns the entry with the given ID, withdrawn or not.
func (ix *Index) Entry(id string) (*Entry, bool) {
	e, ok := ix.byID[id]
	return e, ok
}

// Len returns the number of entries.
func (ix *Index) Len() int { return len(ix.byID) }

// HasModule reports whether any entry names module.
func (ix *Index) HasModule(module string) bool {
	_, ok := ix.modules[module]
	return ok
}
