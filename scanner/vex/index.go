package vex

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Statement is what the [Index] answers: one statement of a document,
// resolved against a module version.
type Statement struct {
	// Source is where the statement was read.
	Source Source
	// Vulnerability is the vulnerability's name (GO-..., CVE-...).
	Vulnerability string
	// Aliases are its other identifiers: the statement's own aliases plus
	// those of the statements it won over (see [Index.Statements]),
	// sorted, without Vulnerability.
	Aliases []string
	Status  Status
	// Justification is set for not_affected statements that give one.
	Justification   Justification
	ImpactStatement string
	ActionStatement string
	// Timestamp is when the statement was known to be true: its own
	// last_updated or timestamp, else its document's.
	Timestamp time.Time
	// Product is the @id (else identifiers.purl) of the product under
	// which the module version was found: the product itself when it is
	// the module's purl, or the product whose subcomponent it is.
	Product string
}

// IDs returns the vulnerability's name followed by its aliases.
func (s *Statement) IDs() []string { return append([]string{s.Vulnerability}, s.Aliases...) }

// Source locates a statement.
type Source struct {
	// File is the document's path as given to [Load] or [File.Path].
	File string
	// DocumentID is the document's @id.
	DocumentID string
	// Index is the statement's position in the document's statements.
	Index int
	// StatementID is the statement's @id, if it has one.
	StatementID string
}

// Index answers which statements speak about a module version. It is
// immutable and safe for concurrent use.
type Index struct {
	byVersion map[string][]entry // module@canonical version → statements
	n         int                // statements read
	digest    string
}

// entry is a statement matched to one module version.
type entry struct {
	st    Statement
	order int // load order, for deterministic ties
}

// NewIndex validates the documents (see [CheckDocument]) and indexes
// them. It reports every problem at once.
func NewIndex(files ...File) (*Index, error) {
	var errs []error
	for _, f := range files {
		for _, e := range problems(f.Document) {
			e.File = f.Path
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ix := &Index{byVersion: map[string][]entry{}}
	h := sha256.New()
	for _, f := range files {
		for i := range f.Document.Statements {
			ix.add(f, i)
		}
		data, _ := json.Marshal(f.Document)
		fmt.Fprintf(h, "%s\x00%d\x00", f.Path, len(data))
		h.Write(data)
	}
	ix.digest = hex.EncodeToString(h.Sum(nil))
	return ix, nil
}

// Digest identifies the indexed documents (their paths and content):
// anything derived from an index with another digest is stale.
func (ix *Index) Digest() string { return ix.digest }

// add indexes statement i of f under every module version it names.
func (ix *Index) add(f File, i int) {
	d, s := f.Document, &f.Document.Statements[i]
	st := Statement{
		Source:          Source{File: f.Path, DocumentID: d.ID, Index: i, StatementID: s.ID},
		Vulnerability:   s.Vulnerability.Name,
		Status:          s.Status,
		Justification:   s.Justification,
		ImpactStatement: s.ImpactStatement,
		ActionStatement: s.ActionStatement,
		Timestamp:       statementTime(d, s),
	}
	st.Aliases = aliases(st.Vulnerability, s.Vulnerability.Aliases)
	keys := map[string]string{} // module version → product
	for _, p := range s.Products {
		name := p.ID
		if name == "" {
			name = p.Identifiers["purl"]
		}
		for _, u := range p.purls() {
			if k, ok := matchKey(u); ok && keys[k] == "" {
				keys[k] = u
			}
		}
		for _, sc := range p.Subcomponents {
			for _, u := range sc.purls() {
				if k, ok := matchKey(u); ok && keys[k] == "" {
					keys[k] = name
				}
			}
		}
	}
	for k, product := range keys {
		e := entry{st: st, order: ix.n}
		e.st.Product = product
		ix.byVersion[k] = append(ix.byVersion[k], e)
	}
	ix.n++
}

// matchKey returns the index key of a Go purl naming a module version.
func matchKey(u string) (string, bool) {
	if !isGoPURL(u) {
		return "", false
	}
	p, err := ParsePURL(u)
	if err != nil || p.Subpath != "" {
		return "", false
	}
	return versionKey(p.Module, p.Version)
}

func versionKey(module, version string) (string, bool) {
	cv := canonicalVersion(version)
	if module == "" || cv == "" {
		return "", false
	}
	return module + "@" + cv, true
}

// Len returns the number of statements read.
func (ix *Index) Len() int { return ix.n }

// Statements returns the statements about module at version, one per
// vulnerability, sorted by vulnerability name. Statements are about the
// same vulnerability when their names or aliases share an identifier;
// of those the newest wins, and on equal times the one that exempts less
// (affected, under_investigation, fixed, not_affected, in that order),
// then the one loaded first. version is compared canonically; an invalid
// version matches nothing.
func (ix *Index) Statements(module, version string) []Statement {
	k, ok := versionKey(module, version)
	if !ok || ix == nil {
		return nil
	}
	var out []Statement
	for _, g := range groupByVulnerability(ix.byVersion[k]) {
		best := slices.MaxFunc(g, compareEntries)
		st := best.st
		var all []string
		for _, e := range g {
			all = append(all, e.st.IDs()...)
		}
		st.Aliases = aliases(st.Vulnerability, all)
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Statement) int { return cmp.Compare(a.Vulnerability, b.Vulnerability) })
	return out
}

// Lookup returns the winning statement about module at version for the
// vulnerability known by any of ids.
func (ix *Index) Lookup(module, version string, ids ...string) (Statement, bool) {
	for _, st := range ix.Statements(module, version) {
		for _, id := range st.IDs() {
			if slices.Contains(ids, id) {
				return st, true
			}
		}
	}
	return Statement{}, false
}

// compareEntries orders entries so that the winner is the maximum.
func compareEntries(a, b entry) int {
	if c := a.st.Timestamp.Compare(b.st.Timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(a.st.Status.rank(), b.st.Status.rank()); c != 0 {
		return c
	}
	return cmp.Compare(b.order, a.order)
}

// groupByVulnerability partitions entries into sets sharing an
// identifier (transitively).
func groupByVulnerability(entries []entry) [][]entry {
	var groups [][]entry
	var ids []map[string]bool
	for _, e := range entries {
		merged, mids := []entry{e}, map[string]bool{}
		for _, id := range e.st.IDs() {
			mids[id] = true
		}
		for i := 0; i < len(groups); i++ {
			if !overlaps(ids[i], mids) {
				continue
			}
			merged = append(groups[i], merged...)
			for id := range ids[i] {
				mids[id] = true
			}
			groups, ids = slices.Delete(groups, i, i+1), slices.Delete(ids, i, i+1)
			i--
		}
		groups, ids = append(groups, merged), append(ids, mids)
	}
	return groups
}

func overlaps(a, b map[string]bool) bool {
	for id := range b {
		if a[id] {
			return true
		}
	}
	return false
}

// aliases returns ids sorted and deduplicated, without name or "".
func aliases(name string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if id != "" && id != name {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
