// Package factstest provides an in-memory [facts.Source] and helpers to
// build vulnerability database snapshots, for unit tests of code that
// decides (the policy engine) without a module upstream. Tests of whole
// paths use the real cache in front of proxytest's hermetic upstream.
package factstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/vulndb"
)

// Source is an in-memory module source. The zero value is empty and ready;
// it is safe for concurrent use.
type Source struct {
	// Err, when set, is returned by List (an outage).
	Err error
	// InfoErr, when set, is returned by Time (an .info outage).
	InfoErr error
	// Lists counts List calls, Latests Latest calls and Times Time
	// calls (.info fetches).
	Lists, Latests, Times atomic.Int32

	mu      sync.Mutex // protects the fields below
	mods    map[string]*module
	records map[string][]byte
	lists   map[string]*modcache.List // identity changes only when versions do
}

type module struct {
	listed   []string
	times    map[string]time.Time
	fetched  map[string]bool // versions whose .info Time has fetched
	gomods   map[string]string
	latest   *modcache.Info // @latest
	unlisted bool           // the source refuses to list the module
}

func (s *Source) mod(path string) *module {
	if s.mods == nil {
		s.mods = map[string]*module{}
		s.records = map[string][]byte{}
		s.lists = map[string]*modcache.List{}
	}
	m := s.mods[path]
	if m == nil {
		m = &module{times: map[string]time.Time{}, fetched: map[string]bool{}, gomods: map[string]string{}}
		s.mods[path] = m
	}
	return m
}

// Add adds path@version, listed, with its .info time and go.mod (""
// means "module path"). A zero t means the source refuses the .info (not
// found). Adding a version again replaces its time and go.mod.
func (s *Source) Add(path, version string, t time.Time, gomod string) {
	s.AddUnlisted(path, version, t, gomod)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mod(path)
	if !slices.Contains(m.listed, version) {
		m.listed = append(m.listed, version)
		semver.Sort(m.listed)
		delete(s.lists, path)
	}
}

// AddUnlisted adds path@version without listing it (a pseudo-version, or
// a version the upstream serves but does not list); t and gomod are as
// for [Source.Add].
func (s *Source) AddUnlisted(path, version string, t time.Time, gomod string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mod(path)
	if gomod == "" {
		gomod = "module " + path + "\n"
	}
	m.times[version], m.gomods[version] = t, gomod
	delete(m.fetched, version)
}

// SetLatest sets the source's @latest answer for path.
func (s *Source) SetLatest(path, version string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mod(path).latest = &modcache.Info{Version: version, Time: t}
}

// RefuseList makes the source refuse to list path (a 403), as some
// upstreams do.
func (s *Source) RefuseList(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mod(path).unlisted = true
	delete(s.lists, path)
}

// SeenAt records modgate's first contact with path at t, with versions
// first seen then (initial) — as if modgate had listed it at t. Call it
// before a facts service first reads the module: services keep the
// record in memory once read.
func (s *Source) SeenAt(path string, t time.Time, versions ...string) {
	type info struct {
		First   time.Time `json:"first"`
		Initial bool      `json:"initial,omitempty"`
	}
	rec := struct {
		Created  time.Time       `json:"created"`
		Listed   bool            `json:"listed"`
		Versions map[string]info `json:"versions"`
	}{Created: t, Listed: len(versions) > 0, Versions: map[string]info{}}
	for _, v := range versions {
		rec.Versions[v] = info{First: t, Initial: true}
	}
	data, _ := json.Marshal(rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mod(path)
	s.records[path+"\x00firstseen"] = data
}

var errNotFound = fmt.Errorf("test source: %w", upstream.ErrNotFound)

// List implements facts.Source.
func (s *Source) List(_ context.Context, path string) (*modcache.List, error) {
	s.Lists.Add(1)
	if s.Err != nil {
		return nil, s.Err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mods[path]
	switch {
	case m == nil:
		return nil, errNotFound
	case m.unlisted:
		return nil, &upstream.Error{URL: "test://" + path + "/@v/list", Status: 403}
	}
	if l := s.lists[path]; l != nil {
		return l, nil
	}
	l := &modcache.List{Versions: append([]string(nil), m.listed...)}
	s.lists[path] = l
	return l, nil
}

// Refresh implements facts.Source (the list is always current).
func (s *Source) Refresh(ctx context.Context, path string, _ time.Duration) (*modcache.List, error) {
	return s.List(ctx, path)
}

// Latest implements facts.Source.
func (s *Source) Latest(_ context.Context, path string) (modcache.Info, []byte, error) {
	s.Latests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mods[path]
	if m == nil || m.latest == nil {
		return modcache.Info{}, nil, errNotFound
	}
	data, _ := json.Marshal(m.latest)
	return *m.latest, data, nil
}

// RefreshLatest implements facts.Source.
func (s *Source) RefreshLatest(ctx context.Context, path string, _ time.Duration) (modcache.Info, []byte, error) {
	return s.Latest(ctx, path)
}

// Time implements facts.Source; it counts in Times.
func (s *Source) Time(_ context.Context, path, version string) (time.Time, error) {
	s.Times.Add(1)
	if s.InfoErr != nil {
		return time.Time{}, s.InfoErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.mods[path]; m != nil {
		if t, ok := m.times[version]; ok && !t.IsZero() {
			m.fetched[version] = true
			return t, nil
		}
	}
	return time.Time{}, errNotFound
}

// CachedTime implements facts.Source like a cache that starts cold: only
// the .info times Time has fetched are cached, so facts fetch a time only
// when they need it, and once.
func (s *Source) CachedTime(_ context.Context, path, version string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.mods[path]; m != nil && m.fetched[version] {
		return m.times[version], true
	}
	return time.Time{}, false
}

// GoMod implements facts.Source.
func (s *Source) GoMod(_ context.Context, path, version string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.mods[path]; m != nil {
		if g, ok := m.gomods[version]; ok {
			return []byte(g), nil
		}
	}
	return nil, errNotFound
}

// Zip implements facts.Source: the test source has no zips.
func (s *Source) Zip(_ context.Context, path, version string) (storage.Blob, error) {
	return nil, errNotFound
}

// CachedZip implements facts.Source.
func (s *Source) CachedZip(context.Context, string, string) (storage.Blob, bool, error) {
	return nil, false, nil
}

// ReadRecord implements facts.Source.
func (s *Source) ReadRecord(_ context.Context, path, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.records[path+"\x00"+name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return bytes.Clone(data), nil
}

// WriteRecord implements facts.Source.
func (s *Source) WriteRecord(_ context.Context, path, name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mod(path)
	s.records[path+"\x00"+name] = bytes.Clone(data)
	return nil
}

// Vuln is a vulnerability entry for [DB]: it affects Module at versions
// in [Introduced, Fixed) ("" Fixed: no fix; "" Introduced: from the start).
type Vuln struct {
	ID, Module        string
	Introduced, Fixed string
	Aliases           []string
	Unreviewed        bool
}

// DB is a vulnerability database built from entries; it implements
// facts.VulnDB and can be replaced at run time.
type DB struct {
	cur atomic.Pointer[vulndb.Snapshot]
}

// NewDB builds a database of vs.
func NewDB(id string, vs ...Vuln) (*DB, error) {
	db := &DB{}
	return db, db.Set(id, vs...)
}

// Set replaces the database.
func (db *DB) Set(id string, vs ...Vuln) error {
	var es []*vulndb.Entry
	for _, v := range vs {
		review := vulndb.ReviewStatusReviewed
		if v.Unreviewed {
			review = vulndb.ReviewStatusUnreviewed
		}
		evs := []vulndb.RangeEvent{{Introduced: trimV(v.Introduced)}}
		if v.Fixed != "" {
			evs = append(evs, vulndb.RangeEvent{Fixed: trimV(v.Fixed)})
		}
		es = append(es, &vulndb.Entry{ID: v.ID, Aliases: v.Aliases, Summary: v.ID + " summary", Details: "test",
			Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			Affected: []vulndb.Affected{{Module: vulndb.Module{Path: v.Module, Ecosystem: "Go"},
				Ranges: []vulndb.Range{{Type: "SEMVER", Events: evs}}}},
			DatabaseSpecific: &vulndb.DatabaseSpecific{ReviewStatus: review}})
	}
	snap, err := vulndb.NewSnapshot(es, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Now(), id)
	if err != nil {
		return err
	}
	snap.ID = id
	db.cur.Store(snap)
	return nil
}

// Current implements facts.VulnDB.
func (db *DB) Current() *vulndb.Snapshot { return db.cur.Load() }

func trimV(v string) string {
	switch {
	case v == "":
		return "0"
	case v[0] == 'v':
		return v[1:]
	}
	return v
}
