package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
	"golang.org/x/mod/zip"
)

// Size limits per artifact, from the protocol and the go command.
const (
	maxZip  = zip.MaxZipFile // 500 MiB
	maxMod  = zip.MaxGoMod   // 16 MiB
	maxInfo = 1 << 20
	maxList = 16 << 20
)

func maxSize(kind Kind) int64 {
	switch kind {
	case KindZip:
		return maxZip
	case KindMod:
		return maxMod
	case KindInfo, KindLatest:
		return maxInfo
	}
	return maxList
}

type tempFile interface {
	io.Writer
	Name() string
	Close() error
}

// scratchFunc returns where downloads are staged: next to the store when
// it can adopt files (so committing is a rename), else the OS temp dir.
func scratchFunc(s storage.Storage) func() (tempFile, error) {
	if fp, ok := s.(filePutter); ok {
		return func() (tempFile, error) { return fp.TempFile() }
	}
	return func() (tempFile, error) { return os.CreateTemp("", "modgate-*") }
}

// artifact returns the verified, committed artifact for a canonical
// info, mod or zip request, fetching it once if needed.
func (p *Proxy) artifact(ctx context.Context, req Request) (*cached, error) {
	ep, ev, err := p.paths.escaped(req)
	if err != nil {
		return nil, &RequestError{Path: req.String(), Err: err}
	}
	a, err := p.cache.get(ctx, ep, ev, req.Kind)
	if err != nil {
		return nil, &StorageError{Op: "read", Err: err}
	}
	if a != nil {
		p.Metrics.cacheResult(req.Kind, "hit")
		return a, nil
	}
	p.Metrics.cacheResult(req.Kind, "miss")
	key := artifactKey(ep, ev, req.Kind)
	if p.negative.has(key, p.now()) {
		return nil, &FetchError{Module: req.Module, Version: req.Version, Kind: req.Kind, Err: upstreamNotFound}
	}
	f := p.fetcherFor(req.Module)
	if f == nil {
		return nil, &FetchError{Module: req.Module, Version: req.Version, Kind: req.Kind, Err: errNotCached}
	}
	p.prefetch(ctx, req.Module)
	_, err, _ = p.flights.Do(ctx, key, func(ctx context.Context) (any, error) {
		return nil, p.fetchArtifact(ctx, f, req, ep, ev)
	})
	if err != nil {
		if ttl := p.notFoundTTL(); ttl > 0 && errors.Is(err, upstream.ErrNotFound) {
			p.negative.add(key, p.now().Add(ttl))
		}
		return nil, err
	}
	a, err = p.cache.get(ctx, ep, ev, req.Kind)
	if err != nil {
		return nil, &StorageError{Op: "read", Err: err}
	}
	if a == nil {
		return nil, &StorageError{Op: "read", Err: fmt.Errorf("%s vanished right after commit", key)}
	}
	return a, nil
}

// prefetch lets a Prefetcher decider load the module's facts while the
// artifact downloads.
func (p *Proxy) prefetch(ctx context.Context, mod string) {
	pf, ok := p.Decider.(Prefetcher)
	if !ok {
		return
	}
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		pf.Prefetch(ctx, mod)
	}()
}

var upstreamNotFound = &upstream.Error{URL: "(cached answer)", Status: 404}

// fetchArtifact downloads one artifact to a scratch file, verifies it and
// commits it. Nothing reaches the store unless verification passed.
func (p *Proxy) fetchArtifact(ctx context.Context, f Fetcher, req Request, ep, ev string) (err error) {
	kind := req.Kind
	fail := func(err error) error {
		return &FetchError{Module: req.Module, Version: req.Version, Kind: kind, Err: err}
	}
	class := upstream.Meta
	if kind == KindZip {
		class = upstream.Zip
	}
	resp, err := f.Get(ctx, ep+"/@v/"+ev+"."+string(kind), class)
	p.noteUpstream(err)
	if err != nil {
		p.Metrics.upstreamResult(kind, resultOf(err))
		return fail(err)
	}
	defer resp.Body.Close()
	tmp, err := p.scratch()
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
	limit := maxSize(kind)
	hw := newHashingWriter(tmp)
	n, err := io.Copy(hw, io.LimitReader(resp.Body, limit+1))
	p.Metrics.fetched(n)
	if err != nil {
		p.Metrics.upstreamResult(kind, resultOf(err))
		return fail(fmt.Errorf("download interrupted after %d bytes: %w", n, err))
	}
	if n > limit {
		p.Metrics.upstreamResult(kind, "too_large")
		return fail(fmt.Errorf("upstream %s is larger than the %d-byte limit", kind, limit))
	}
	if resp.Size >= 0 && n != resp.Size {
		p.Metrics.upstreamResult(kind, "truncated")
		return fail(fmt.Errorf("truncated download: got %d of %d bytes", n, resp.Size))
	}
	if err := tmp.Close(); err != nil {
		return &StorageError{Op: "write scratch file", Err: err}
	}
	p.Metrics.upstreamResult(kind, "ok")

	fr := fileRecord{Size: n, SHA256: hw.sum(), Committed: p.now().UTC().Truncate(time.Second)}
	switch kind {
	case KindInfo:
		data, err := os.ReadFile(name)
		if err != nil {
			return &StorageError{Op: "read scratch file", Err: err}
		}
		info, err := parseInfo(data, req.Version)
		if err != nil {
			p.Metrics.verifyFailed("info")
			return fail(err)
		}
		fr.Time = info.Time
	case KindMod:
		data, err := os.ReadFile(name)
		if err != nil {
			return &StorageError{Op: "read scratch file", Err: err}
		}
		if fr.H1, err = p.Verifier.CheckMod(ctx, req.Module, req.Version, data); err != nil {
			p.verifyFailed(err, "go.mod")
			return err
		}
	case KindZip:
		if fr.H1, err = p.Verifier.CheckZip(ctx, req.Module, req.Version, name); err != nil {
			p.verifyFailed(err, "zip")
			return err
		}
	}
	if err := p.cache.commit(ctx, ep, ev, kind, name, fr); err != nil {
		return &StorageError{Op: "commit", Err: err}
	}
	committed = true
	p.logger().Debug("cached", "module", req.Module, "version", req.Version, "kind", kind, "bytes", n)
	return nil
}

func (p *Proxy) verifyFailed(err error, file string) {
	var ce *checksum.Error
	if errors.As(err, &ce) {
		p.Metrics.verifyFailed(file)
		p.logger().Error("verification failed; not cached", "module", ce.Module, "version", ce.Version, "file", file, "err", err)
	}
}

func resultOf(err error) string {
	var ue *upstream.Error
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		return "not_found"
	case errors.As(err, &ue) && ue.Timeout():
		return "timeout"
	case errors.As(err, &ue) && ue.Status >= 500:
		return "5xx"
	}
	return "error"
}

func (p *Proxy) noteUpstream(err error) {
	var ue *upstream.Error
	if err == nil || errors.As(err, &ue) && ue.Status != 0 {
		p.lastUpOK.Store(p.now().UnixNano())
	}
}

// fetchMeta fetches a list, @latest or non-canonical .info from upstream.
func (p *Proxy) fetchMeta(ctx context.Context, req Request, kind Kind) ([]byte, error) {
	ep, ev, err := p.paths.escaped(req)
	if err != nil {
		return nil, &RequestError{Path: req.String(), Err: err}
	}
	var rel string
	switch kind {
	case KindList:
		rel = ep + "/@v/list"
	case KindLatest:
		rel = ep + "/@latest"
	default:
		rel = ep + "/@v/" + ev + ".info"
	}
	fail := func(err error) error {
		return &FetchError{Module: req.Module, Version: req.Version, Kind: kind, Err: err}
	}
	if p.negative.has(rel, p.now()) {
		return nil, fail(upstreamNotFound)
	}
	f := p.fetcherFor(req.Module)
	if f == nil {
		return nil, fail(errNotCached)
	}
	v, err, _ := p.flights.Do(ctx, rel, func(ctx context.Context) (any, error) {
		resp, err := f.Get(ctx, rel, upstream.Meta)
		p.noteUpstream(err)
		if err != nil {
			p.Metrics.upstreamResult(kind, resultOf(err))
			return nil, err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxSize(kind)+1))
		if err != nil {
			p.Metrics.upstreamResult(kind, resultOf(err))
			return nil, fmt.Errorf("download interrupted: %w", err)
		}
		if int64(len(data)) > maxSize(kind) {
			return nil, fmt.Errorf("upstream answer larger than %d bytes", maxSize(kind))
		}
		p.Metrics.upstreamResult(kind, "ok")
		return data, nil
	})
	if err != nil {
		if ttl := p.notFoundTTL(); ttl > 0 && errors.Is(err, upstream.ErrNotFound) {
			p.negative.add(rel, p.now().Add(ttl))
		}
		return nil, fail(err)
	}
	return v.([]byte), nil
}

// negativeCache remembers not-found answers briefly: the go command probes
// every path prefix of a package's import path.
type negativeCache struct {
	mu sync.Mutex // protects m
	m  map[string]time.Time
}

func (n *negativeCache) has(key string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	exp, ok := n.m[key]
	if ok && now.After(exp) {
		delete(n.m, key)
		return false
	}
	return ok
}

func (n *negativeCache) add(key string, exp time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.m) > 100000 {
		n.m = make(map[string]time.Time)
	}
	n.m[key] = exp
}

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
