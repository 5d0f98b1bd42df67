package modcache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/modgate/modgate/proxy/storage"
)

// Storage layout. Every key is built from escaped paths and versions:
//
//	mod/<path>/@v/<version>.info|.mod|.zip   verified artifacts
//	mod/<path>/@v/<version>.commit           per-version commit record
//	meta/<path>/list                         last upstream list + fetch time
//	meta/<path>/latest                       last upstream @latest answer
//	meta/<path>/firstseen                    when each version first appeared
//	sumdb/<name>/...                         checksum database state
//
// An artifact is visible only when the version's commit record lists it
// with its size and hash. The record is rewritten (atomically) after the
// artifact itself is in place, so a crash between the two leaves an
// invisible artifact that the next fetch overwrites.
func artifactKey(escPath, escVer string, kind Kind) string {
	return "mod/" + escPath + "/@v/" + escVer + "." + string(kind)
}

func commitKey(escPath, escVer string) string {
	return "mod/" + escPath + "/@v/" + escVer + ".commit"
}

func metaKey(escPath, name string) string { return "meta/" + escPath + "/" + name }

// commitRecord is the per-version commit marker.
type commitRecord struct {
	Files map[Kind]FileRecord `json:"files"`
}

// FileRecord describes one committed artifact.
type FileRecord struct {
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	H1        string    `json:"h1,omitempty"` // checksum database hash (mod, zip)
	Committed time.Time `json:"committed"`
	// Time is the version's .info time (info only), kept so decisions
	// need not reopen the file.
	Time time.Time `json:"time,omitzero"`

	hdr *Headers // derived by artifactCache.remember; not stored
}

func (f FileRecord) etag() string { return `"` + f.SHA256[:32] + `"` }

// Headers are response header values derived from a FileRecord once,
// when its commit record is loaded, so cache hits allocate none. net/http
// never modifies header value slices, so they are shared.
type Headers struct {
	ETag, LastModified, ContentLength []string
}

// Headers returns the artifact's response header values. They are shared:
// callers must not modify them.
func (f FileRecord) Headers() *Headers {
	if f.hdr != nil {
		return f.hdr
	}
	return &Headers{
		ETag:          []string{f.etag()},
		LastModified:  []string{f.Committed.UTC().Format(http.TimeFormat)},
		ContentLength: []string{strconv.FormatInt(f.Size, 10)},
	}
}

// artifactCache is the verified-artifact layer over a Storage. It keeps
// commit records and small artifacts in memory so cache hits do not touch
// the disk.
type artifactCache struct {
	store storage.Storage

	// mu protects records and small. They are keyed by structs rather
	// than storage keys so that a hit builds no string.
	mu      sync.RWMutex
	records map[versionKey]*commitRecord
	small   map[artKey][]byte // small artifacts
	smallSz int64

	// versionLocks serializes commit-record updates per version.
	versionLocks sync.Map // commitKey -> *sync.Mutex
}

const (
	maxRecords   = 1 << 18
	maxSmallFile = 64 << 10
	maxSmallSize = 128 << 20
)

// versionKey and artKey identify a version and one of its artifacts by
// escaped path and version.
type versionKey struct{ path, version string }

type artKey struct {
	versionKey
	kind Kind
}

func newArtifactCache(s storage.Storage) *artifactCache {
	return &artifactCache{store: s, records: make(map[versionKey]*commitRecord), small: make(map[artKey][]byte)}
}

// record returns the version's commit record, or nil if none.
func (c *artifactCache) record(ctx context.Context, escPath, escVer string) (*commitRecord, error) {
	vk := versionKey{escPath, escVer}
	c.mu.RLock()
	rec, ok := c.records[vk]
	c.mu.RUnlock()
	if ok {
		return rec, nil
	}
	b, err := c.store.Get(ctx, commitKey(escPath, escVer))
	if storage.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer b.Close()
	rec = new(commitRecord)
	if err := json.NewDecoder(io.LimitReader(b, 1<<20)).Decode(rec); err != nil {
		// A corrupt record hides the version; the next fetch rewrites it.
		return nil, nil
	}
	c.remember(versionKey{escPath, escVer}, rec)
	return rec, nil
}

// remember caches rec, which must not be shared yet: it derives the
// records' header values in place.
func (c *artifactCache) remember(vk versionKey, rec *commitRecord) {
	for k, fr := range rec.Files {
		fr.hdr = fr.Headers()
		rec.Files[k] = fr
	}
	c.mu.Lock()
	if len(c.records) >= maxRecords {
		// Crude but bounded: forget everything; records reload on demand.
		c.records = make(map[versionKey]*commitRecord)
	}
	c.records[vk] = rec
	c.mu.Unlock()
}

// Artifact is a committed artifact ready to serve. Exactly one of Data and
// Blob is set; the caller closes it.
type Artifact struct {
	Record FileRecord
	// InfoTime is the version's .info time when the .info is committed
	// too (it lives in the same commit record), so decisions on .mod and
	// .zip hits need no second look-up; zero otherwise.
	InfoTime time.Time
	Data     []byte       // small artifacts held in memory
	Blob     storage.Blob // otherwise
}

// Close releases the blob, if any.
func (a *Artifact) Close() {
	if a.Blob != nil {
		a.Blob.Close()
	}
}

// Bytes returns the artifact's content, reading the blob if needed.
func (a *Artifact) Bytes() ([]byte, error) {
	if a.Data != nil {
		return a.Data, nil
	}
	if _, err := a.Blob.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(a.Blob, a.Record.Size+1))
}

// get returns the committed artifact, or (nil, nil) when absent.
func (c *artifactCache) get(ctx context.Context, escPath, escVer string, kind Kind) (*Artifact, error) {
	rec, err := c.record(ctx, escPath, escVer)
	if err != nil || rec == nil {
		return nil, err
	}
	fr, ok := rec.Files[kind]
	if !ok {
		return nil, nil
	}
	infoTime := rec.Files[KindInfo].Time
	ak := artKey{versionKey{escPath, escVer}, kind}
	c.mu.RLock()
	data, ok := c.small[ak]
	c.mu.RUnlock()
	if ok {
		return &Artifact{Record: fr, Data: data, InfoTime: infoTime}, nil
	}
	b, err := c.store.Get(ctx, artifactKey(escPath, escVer, kind))
	if storage.IsNotExist(err) {
		return nil, nil // record without file: treat as a miss and refetch
	}
	if err != nil {
		return nil, err
	}
	if b.Size() != fr.Size {
		b.Close()
		return nil, nil // torn or replaced file: refetch
	}
	if fr.Size <= maxSmallFile {
		data, err := io.ReadAll(b)
		b.Close()
		if err != nil {
			return nil, err
		}
		c.keepSmall(ak, data)
		return &Artifact{Record: fr, Data: data, InfoTime: infoTime}, nil
	}
	return &Artifact{Record: fr, Blob: b, InfoTime: infoTime}, nil
}

func (c *artifactCache) keepSmall(ak artKey, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.small[ak]; ok {
		return
	}
	if c.smallSz+int64(len(data)) > maxSmallSize {
		c.small = make(map[artKey][]byte)
		c.smallSz = 0
	}
	c.small[ak] = data
	c.smallSz += int64(len(data))
}

// filePutter is implemented by storage backends that can adopt a local
// file without copying it (the disk backend renames it into place).
type filePutter interface {
	TempFile() (*os.File, error)
	PutFile(ctx context.Context, key, path string) error
}

// commit stores a verified artifact from the local file at path (which is
// consumed) and then records it in the version's commit record.
func (c *artifactCache) commit(ctx context.Context, escPath, escVer string, kind Kind, path string, fr FileRecord) error {
	ak := artifactKey(escPath, escVer, kind)
	if fp, ok := c.store.(filePutter); ok {
		if err := fp.PutFile(ctx, ak, path); err != nil {
			return err
		}
	} else {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = c.store.Put(ctx, ak, f)
		f.Close()
		os.Remove(path)
		if err != nil {
			return err
		}
	}
	ck := commitKey(escPath, escVer)
	muAny, _ := c.versionLocks.LoadOrStore(ck, new(sync.Mutex))
	mu := muAny.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	rec, err := c.record(ctx, escPath, escVer)
	if err != nil {
		return err
	}
	next := &commitRecord{Files: make(map[Kind]FileRecord)}
	if rec != nil {
		for k, v := range rec.Files {
			next.Files[k] = v
		}
	}
	next.Files[kind] = fr
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := c.store.Put(ctx, ck, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("write commit record: %w", err)
	}
	c.mu.Lock()
	delete(c.small, artKey{versionKey{escPath, escVer}, kind}) // a replaced artifact must not be served stale
	c.mu.Unlock()
	c.remember(versionKey{escPath, escVer}, next)
	return nil
}

// forget drops an artifact from the commit record (used by cache verify
// --purge) so it is refetched.
func (c *artifactCache) forget(ctx context.Context, escPath, escVer string, kind Kind) error {
	ck := commitKey(escPath, escVer)
	muAny, _ := c.versionLocks.LoadOrStore(ck, new(sync.Mutex))
	mu := muAny.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	rec, err := c.record(ctx, escPath, escVer)
	if err != nil || rec == nil {
		return err
	}
	next := &commitRecord{Files: make(map[Kind]FileRecord)}
	for k, v := range rec.Files {
		if k != kind {
			next.Files[k] = v
		}
	}
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := c.store.Put(ctx, ck, bytes.NewReader(data)); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.small, artKey{versionKey{escPath, escVer}, kind})
	c.mu.Unlock()
	c.remember(versionKey{escPath, escVer}, next)
	return c.store.Delete(ctx, artifactKey(escPath, escVer, kind))
}
