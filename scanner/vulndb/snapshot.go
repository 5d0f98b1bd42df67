package vulndb

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Snapshot is one immutable, loaded copy of the vulnerability database:
// its entries, the [Index] over them, and the files of the v1 database
// layout (https://go.dev/security/vuln/database#api) that [Handler] serves
// and [Snapshot.Build] writes. A Snapshot is safe for concurrent use.
type Snapshot struct {
	// ID identifies the content: two snapshots with the same ID serve
	// byte-identical databases. It is a hex SHA-256, suitable as a
	// component of decision cache keys.
	ID string
	// Modified is the time of the data: the newest entry modification or
	// the source's own time (the .info time of a golang.org/x/vulndb
	// version), whichever is later. It is index/db.json's "modified".
	Modified time.Time
	// Loaded is when the snapshot was built.
	Loaded time.Time
	// Source describes where the entries came from, for logs and status.
	Source string

	index   *Index
	entries []*Entry // sorted by ID
	files   map[string]*v1File
}

// Age returns how old the data is at now (now - Modified).
func (s *Snapshot) Age(now time.Time) time.Duration { return now.Sub(s.Modified) }

// Index returns the snapshot's index.
func (s *Snapshot) Index() *Index { return s.index }

// Affects is s.Index().Affects.
func (s *Snapshot) Affects(module, version string) ([]Match, error) {
	return s.index.Affects(module, version)
}

// Entries returns the entries sorted by ID; callers must not modify them.
func (s *Snapshot) Entries() []*Entry { return s.entries }

// Len returns the number of entries.
func (s *Snapshot) Len() int { return len(s.entries) }

// NewSnapshot builds a snapshot of entries. It normalizes the entries in
// place (see [Entry]) and takes ownership of them. An entry whose Modified
// is zero gets modified, as entries of the golang.org/x/vulndb module do;
// a zero modified means the newest entry time. A later entry replaces an
// earlier one with the same ID.
func NewSnapshot(entries []*Entry, modified, loaded time.Time, source string) (*Snapshot, error) {
	byID := make(map[string]*Entry, len(entries))
	for _, e := range entries {
		if err := normalizeEntry(e); err != nil {
			return nil, &EntryError{ID: e.ID, File: source, Err: err}
		}
		if len(e.Affected) == 0 {
			continue
		}
		byID[e.ID] = e
	}
	sorted := make([]*Entry, 0, len(byID))
	for _, e := range byID {
		sorted = append(sorted, e)
	}
	slices.SortFunc(sorted, func(a, b *Entry) int { return strings.Compare(a.ID, b.ID) })
	// Fill in missing modification times, then take the newest time as
	// the snapshot's. Writes are conditional: entries may be shared with
	// a previous snapshot that is being read concurrently.
	fill := modified
	if fill.IsZero() {
		for _, e := range sorted {
			if e.Modified.After(fill) {
				fill = e.Modified
			}
		}
		if fill.IsZero() {
			fill = loaded
		}
	}
	fill = fill.UTC()
	modified = fill
	for _, e := range sorted {
		if e.Modified.IsZero() {
			e.Modified = fill
		}
		if e.Modified.After(modified) {
			modified = e.Modified.UTC()
		}
	}
	ix, err := newIndex(sorted)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{
		Modified: modified,
		Loaded:   loaded,
		Source:   source,
		index:    ix,
		entries:  sorted,
		files:    make(map[string]*v1File, len(sorted)+3),
	}
	if err := s.buildFiles(); err != nil {
		return nil, err
	}
	return s, nil
}

// v1File is one file of the v1 layout: its JSON, and the .json.gz twin
// compressed on first use.
type v1File struct {
	data    []byte
	etag    string
	modTime time.Time

	gzOnce sync.Once
	gz     []byte
}

func (f *v1File) gzipped() []byte {
	f.gzOnce.Do(func() { f.gz = gzipBytes(f.data) })
	return f.gz
}

// gzipBytes compresses deterministically (no name or time in the header)
// so the twin's ETag is stable across processes.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func newV1File(data []byte, mod time.Time) *v1File {
	sum := sha256.Sum256(data)
	return &v1File{data: data, etag: hex.EncodeToString(sum[:16]), modTime: mod}
}

// The JSON documents of the v1 index endpoints.
type (
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
	moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
)

// v1 paths, relative to the database root.
const (
	dbPath      = "index/db.json"
	modulesPath = "index/modules.json"
	vulnsPath   = "index/vulns.json"
)

func entryPath(id string) string { return "ID/" + id + ".json" }

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (s *Snapshot) buildFiles() error {
	mods := make(map[string]*moduleMeta)
	vulns := make([]vulnMeta, 0, len(s.entries))
	idHash := sha256.New()
	for _, e := range s.entries {
		data, err := marshal(e)
		if err != nil {
			return fmt.Errorf("%s: encoding: %w", e.ID, err)
		}
		f := newV1File(data, e.Modified)
		s.files[entryPath(e.ID)] = f
		fmt.Fprintf(idHash, "%s %s\n", e.ID, f.etag)
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		var seen []string
		for _, a := range e.Affected {
			if slices.Contains(seen, a.Module.Path) {
				continue
			}
			seen = append(seen, a.Module.Path)
			m := mods[a.Module.Path]
			if m == nil {
				m = &moduleMeta{Path: a.Module.Path}
				mods[a.Module.Path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFix(e, a.Module.Path)})
		}
	}
	modList := make([]*moduleMeta, 0, len(mods))
	for _, m := range mods {
		modList = append(modList, m)
	}
	slices.SortFunc(modList, func(a, b *moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	for path, v := range map[string]any{
		dbPath:      dbMeta{Modified: s.Modified},
		modulesPath: modList,
		vulnsPath:   vulns,
	} {
		data, err := marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", path, err)
		}
		s.files[path] = newV1File(data, s.Modified)
	}
	fmt.Fprintf(idHash, "modified %s\n", s.Modified.Format(time.RFC3339Nano))
	s.ID = hex.EncodeToString(idHash.Sum(nil))
	return nil
}

// latestFix returns the fix an index/modules.json entry advertises for
// module: the highest fixed version, unless the vulnerability is
// reintroduced after it or some block affects every version ("" then).
func latestFix(e *Entry, module string) string {
	var best semv
	var bestStr string
	var intros []semv
	for _, a := range e.Affected {
		if a.Module.Path != module {
			continue
		}
		semverSeen := false
		for _, r := range a.Ranges {
			if r.Type != rangeSemver {
				continue
			}
			semverSeen = true
			if len(r.Events) == 0 {
				return ""
			}
			for _, ev := range r.Events {
				if ev.Fixed != "" {
					v, _ := parseSemver("v" + ev.Fixed)
					if bestStr == "" || v.compare(best) > 0 {
						best, bestStr = v, ev.Fixed
					}
				} else if ev.Introduced != "" && ev.Introduced != "0" {
					v, _ := parseSemver("v" + ev.Introduced)
					intros = append(intros, v)
				}
			}
		}
		if !semverSeen {
			return ""
		}
	}
	for _, in := range intros {
		if bestStr != "" && in.compare(best) > 0 {
			return ""
		}
	}
	return bestStr
}

// file returns the v1 file at path ("index/db.json", "ID/GO-…json", or
// either with ".gz"): its bytes, ETag and modification time.
func (s *Snapshot) file(path string) (data []byte, etag string, mod time.Time, ok bool) {
	gz := strings.HasSuffix(path, ".json.gz")
	f := s.files[strings.TrimSuffix(path, ".gz")]
	if f == nil {
		return nil, "", time.Time{}, false
	}
	if gz {
		return f.gzipped(), f.etag + ".gz", f.modTime, true
	}
	return f.data, f.etag, f.modTime, true
}

// Build writes the complete v1 database into dir: index/db.json,
// index/modules.json, index/vulns.json and ID/<id>.json, each with a
// .json.gz twin, as `govulncheck -db file://DIR` (which reads the .json
// files) and HTTP clients (which read the .json.gz files) expect. dir is
// created if needed; ID files of entries no longer in the snapshot are
// removed so a rebuilt directory matches its index. Files are written via
// temporary files and renames, so a concurrent reader never sees a torn
// file.
func (s *Snapshot) Build(dir string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("building vulnerability database in %s: %w", dir, err)
		}
	}()
	for _, sub := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	paths := make([]string, 0, len(s.files))
	for p := range s.files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	// Entries first, indexes last: a reader that sees the new index finds
	// every entry it names.
	slices.SortStableFunc(paths, func(a, b string) int {
		return boolInt(strings.HasPrefix(a, "index/")) - boolInt(strings.HasPrefix(b, "index/"))
	})
	for _, p := range paths {
		f := s.files[p]
		for _, variant := range []struct {
			name string
			data []byte
		}{{p, f.data}, {p + ".gz", f.gzipped()}} {
			if err := writeFileAtomic(filepath.Join(dir, filepath.FromSlash(variant.name)), variant.data, f.modTime); err != nil {
				return err
			}
		}
	}
	// Remove stale entries.
	idDir := filepath.Join(dir, "ID")
	des, err := os.ReadDir(idDir)
	if err != nil {
		return err
	}
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".json.gz")) {
			continue
		}
		if _, ok := s.files["ID/"+strings.TrimSuffix(name, ".gz")]; !ok {
			if err := os.Remove(filepath.Join(idDir, name)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func writeFileAtomic(name string, data []byte, mod time.Time) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := firstErr(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if !mod.IsZero() {
		os.Chtimes(tmp.Name(), mod, mod) // best effort: only informative
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
