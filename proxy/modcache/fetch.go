package modcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/modgate/modgate/internal/lru"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// scratchFunc returns where downloads are staged: next to the store when
// it can adopt files (so committing is a rename), else the OS temp dir.
func scratchFunc(s storage.Storage) func() (*os.File, error) {
	if fp, ok := s.(filePutter); ok {
		return fp.TempFile
	}
	return func() (*os.File, error) { return os.CreateTemp("", "modgate-*") }
}

// Get returns the verified, committed artifact of a canonical version's
// .info, .mod or .zip, fetching it once if needed. The caller closes it.
func (c *Cache) Get(ctx context.Context, mod, version string, kind Kind) (*Artifact, error) {
	c.init()
	r, err := c.ref(mod, version, kind)
	if err != nil {
		return nil, err
	}
	return c.get(ctx, r)
}

// Cached returns the artifact if it is committed, or nil; it never
// fetches.
func (c *Cache) Cached(ctx context.Context, mod, version string, kind Kind) (*Artifact, error) {
	c.init()
	r, err := c.ref(mod, version, kind)
	if err != nil {
		return nil, nil // an invalid version is never cached
	}
	a, err := c.files.get(ctx, r.ep, r.ev, kind)
	if err != nil {
		return nil, &StorageError{Op: "read", Err: err}
	}
	if a != nil {
		c.Metrics.cacheResult(kind, "hit")
	}
	return a, nil
}

func (c *Cache) get(ctx context.Context, r ref) (*Artifact, error) {
	a, err := c.files.get(ctx, r.ep, r.ev, r.kind)
	if err != nil {
		return nil, &StorageError{Op: "read", Err: err}
	}
	if a != nil {
		c.Metrics.cacheResult(r.kind, "hit")
		return a, nil
	}
	c.Metrics.cacheResult(r.kind, "miss")
	key := artifactKey(r.ep, r.ev, r.kind)
	if c.negative.has(key, c.now()) {
		return nil, &FetchError{Module: r.mod, Version: r.ver, Kind: r.kind, Err: upstreamNotFound}
	}
	src := c.sourceFor(r.mod)
	if src == nil {
		return nil, &FetchError{Module: r.mod, Version: r.ver, Kind: r.kind, Err: ErrNotCached}
	}
	c.onMiss(ctx, r.mod)
	_, err, _ = c.flights.Do(ctx, key, func(ctx context.Context) (any, error) {
		return nil, c.fetchArtifact(ctx, src, r)
	})
	if err != nil {
		if ttl := c.notFoundTTL(); ttl > 0 && errors.Is(err, upstream.ErrNotFound) {
			c.negative.add(key, c.now().Add(ttl))
		}
		return nil, err
	}
	a, err = c.files.get(ctx, r.ep, r.ev, r.kind)
	if err != nil {
		return nil, &StorageError{Op: "read", Err: err}
	}
	if a == nil {
		return nil, &StorageError{Op: "read", Err: fmt.Errorf("%s vanished right after commit", key)}
	}
	return a, nil
}

// onMiss runs the OnMiss hook in the background.
func (c *Cache) onMiss(ctx context.Context, mod string) {
	if c.OnMiss == nil {
		return
	}
	c.inflight.Add(1)
	go func() {
		defer c.inflight.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		c.OnMiss(ctx, mod)
	}()
}

var upstreamNotFound = &upstream.Error{URL: "(cached answer)", Status: 404}

// fetchArtifact downloads one artifact to a scratch file, verifies it and
// commits it. Nothing reaches the store unless verification passed.
func (c *Cache) fetchArtifact(ctx context.Context, src Source, r ref) error {
	tmp, err := c.scratch()
	if err != nil {
		return &StorageError{Op: "create scratch file", Err: err}
	}
	name := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(name)
		}
	}()
	n, err := c.download(ctx, src, r, tmp)
	c.noteUpstream(err)
	c.Metrics.fetched(n)
	if se := scratchError(err, name, "write scratch file"); se != nil {
		return se
	}
	if err != nil {
		c.Metrics.upstreamResult(r.kind, resultOf(err))
		return &FetchError{Module: r.mod, Version: r.ver, Kind: r.kind, Err: err}
	}
	c.Metrics.upstreamResult(r.kind, "ok")
	sum, err := fileSHA256(tmp)
	if err == nil {
		err = tmp.Close()
	}
	if err != nil {
		return &StorageError{Op: "write scratch file", Err: err}
	}
	fr := FileRecord{Size: n, SHA256: sum, Committed: c.now().UTC().Truncate(time.Second)}
	if err := c.verify(ctx, r, name, &fr); err != nil {
		if se := scratchError(err, name, "read scratch file"); se != nil {
			return se
		}
		return err
	}
	if err := c.files.commit(ctx, r.ep, r.ev, r.kind, name, fr); err != nil {
		return &StorageError{Op: "commit", Err: err}
	}
	committed = true
	c.logger().Debug("cached", "module", r.mod, "version", r.ver, "kind", r.kind, "bytes", n)
	return nil
}

// scratchError returns err as a *StorageError if it is a failure of the
// scratch file name itself (a full disk, say) rather than of the source
// or the content, else nil. Such errors name a server path, which must
// reach only the log.
func scratchError(err error, name, op string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == name {
		return &StorageError{Op: op, Err: pe}
	}
	return nil
}

// download writes r's file from src into dst and returns its size.
func (c *Cache) download(ctx context.Context, src Source, r ref, dst *os.File) (int64, error) {
	var data []byte
	var err error
	switch r.kind {
	case KindZip:
		return src.Zip(ctx, r.mod, r.ver, dst)
	case KindMod:
		data, err = src.GoMod(ctx, r.mod, r.ver)
	default:
		data, err = src.Info(ctx, r.mod, r.ver)
	}
	if err != nil {
		return 0, err
	}
	if _, err := dst.Write(data); err != nil {
		return 0, &StorageError{Op: "write scratch file", Err: err}
	}
	return int64(len(data)), nil
}

// fileSHA256 returns the hex SHA-256 of f's content.
func fileSHA256(f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verify checks the downloaded file at name and records what it learned
// (the .info time, the h1 hash) in fr.
func (c *Cache) verify(ctx context.Context, r ref, name string, fr *FileRecord) error {
	var err error
	switch r.kind {
	case KindInfo:
		data, err := os.ReadFile(name)
		if err != nil {
			return &StorageError{Op: "read scratch file", Err: err}
		}
		info, err := ParseInfo(data, r.ver)
		if err != nil {
			c.Metrics.verifyFailed("info")
			return &FetchError{Module: r.mod, Version: r.ver, Kind: r.kind, Err: err}
		}
		fr.Time = info.Time
	case KindMod:
		data, err := os.ReadFile(name)
		if err != nil {
			return &StorageError{Op: "read scratch file", Err: err}
		}
		if fr.H1, err = c.Verifier.CheckMod(ctx, r.mod, r.ver, data); err != nil {
			c.verifyFailed(err, "go.mod")
			return err
		}
	case KindZip:
		if fr.H1, err = c.Verifier.CheckZip(ctx, r.mod, r.ver, name); err != nil {
			c.verifyFailed(err, "zip")
			return err
		}
	}
	return nil
}

func (c *Cache) verifyFailed(err error, file string) {
	var ce *checksum.Error
	if errors.As(err, &ce) {
		c.Metrics.verifyFailed(file)
		c.logger().Error("verification failed; not cached", "module", ce.Module, "version", ce.Version, "file", file, "err", err)
	}
}

func resultOf(err error) string {
	var ue *upstream.Error
	switch {
	case errors.Is(err, upstream.ErrTooLarge):
		return "too_large"
	case errors.Is(err, upstream.ErrNotFound):
		return "not_found"
	case errors.As(err, &ue) && ue.Timeout():
		return "timeout"
	case errors.As(err, &ue) && ue.Status >= 500:
		return "5xx"
	}
	return "error"
}

func (c *Cache) noteUpstream(err error) {
	var ue *upstream.Error
	if err == nil || errors.As(err, &ue) && ue.Status != 0 {
		c.lastUpOK.Store(c.now().UnixNano())
	}
}

// fetchMeta fetches a list, @latest or non-canonical .info (r.ver is the
// query) from the source, sharing concurrent fetches.
func (c *Cache) fetchMeta(ctx context.Context, r ref) ([]byte, error) {
	key := metaKey(r.ep, string(r.kind))
	if r.kind == KindInfo {
		key = artifactKey(r.ep, r.ev, KindInfo)
	}
	fail := func(err error) error {
		return &FetchError{Module: r.mod, Version: r.ver, Kind: r.kind, Err: err}
	}
	if c.negative.has(key, c.now()) {
		return nil, fail(upstreamNotFound)
	}
	src := c.sourceFor(r.mod)
	if src == nil {
		return nil, fail(ErrNotCached)
	}
	v, err, _ := c.flights.Do(ctx, key, func(ctx context.Context) (any, error) {
		var data []byte
		var err error
		switch r.kind {
		case KindList:
			data, err = src.List(ctx, r.mod)
		case KindLatest:
			data, err = src.Latest(ctx, r.mod)
		default:
			data, err = src.Info(ctx, r.mod, r.ver)
		}
		c.noteUpstream(err)
		if err != nil {
			c.Metrics.upstreamResult(r.kind, resultOf(err))
			return nil, err
		}
		c.Metrics.upstreamResult(r.kind, "ok")
		return data, nil
	})
	if err != nil {
		if ttl := c.notFoundTTL(); ttl > 0 && errors.Is(err, upstream.ErrNotFound) {
			c.negative.add(key, c.now().Add(ttl))
		}
		return nil, fail(err)
	}
	return v.([]byte), nil
}

// negativeCache remembers not-found answers briefly: the go command probes
// every path prefix of a package's import path.
type negativeCache struct {
	m *lru.Cache[string, time.Time] // key -> expiry
}

// maxNegative bounds the remembered not-found answers.
const maxNegative = 100000

func newNegativeCache() *negativeCache {
	return &negativeCache{m: lru.New[string, time.Time](maxNegative)}
}

func (n *negativeCache) has(key string, now time.Time) bool {
	exp, ok := n.m.Get(key)
	if ok && now.After(exp) {
		n.m.Delete(key)
		return false
	}
	return ok
}

func (n *negativeCache) add(key string, exp time.Time) { n.m.Put(key, exp) }

// versionsOf parses a list body into versions, ignoring junk lines.
func versionsOf(body []byte) []string {
	var vs []string
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			vs = append(vs, f[0])
		}
	}
	return vs
}
