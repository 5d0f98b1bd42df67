package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/license"
	"github.com/modgate/modgate/scanner/vulndb"
)

// proxyModuleFetcher fetches the vulnerability database module through the
// proxy's own verified cache, so it travels the same path as every other
// module (and no policy applies to it).
type proxyModuleFetcher struct{ p *proxy.Proxy }

func (f proxyModuleFetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	return f.p.Latest(ctx, path)
}

func (f proxyModuleFetcher) Zip(ctx context.Context, path, version string, dst io.Writer) error {
	b, err := f.p.ZipFile(ctx, path, version)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := io.Copy(dst, b); err != nil {
		return fmt.Errorf("%s@%s: %w", path, version, err)
	}
	return nil
}

// refresherVulns adapts the vulnerability database to the policy engine.
type refresherVulns struct{ r *vulndb.Refresher }

func (v refresherVulns) Vulns(ctx context.Context, mod, version string) ([]policy.Vuln, error) {
	s := v.r.Current()
	if s == nil {
		// Fail closed: without the database no version can be cleared.
		return nil, fmt.Errorf("%w yet; retry shortly", vulndb.ErrNotLoaded)
	}
	return snapshotVulns{s}.Vulns(ctx, mod, version)
}

func (v refresherVulns) Snapshot() string {
	if s := v.r.Current(); s != nil {
		return s.ID
	}
	return "none"
}

// serveFacts supplies module facts from the proxy's cache and upstream.
type serveFacts struct {
	p        *proxy.Proxy
	licenses *license.Cache
}

func (f serveFacts) Versions(ctx context.Context, mod string) ([]string, error) {
	vs, err := f.p.Versions(ctx, mod)
	var ue *upstream.Error
	switch {
	case errors.Is(err, upstream.ErrNotFound):
		return nil, nil
	case errors.As(err, &ue) && ue.Status >= 400 && ue.Status < 500:
		// The upstream refuses to list the module (some answer 403
		// for lists of modules whose versions they serve): an
		// authoritative "no list", not an outage. Rules see no
		// versions; outages (5xx, timeouts) still fail closed.
		return nil, nil
	}
	return vs, err
}

func (f serveFacts) LatestGoMod(ctx context.Context, mod string) ([]byte, error) {
	vs, err := f.Versions(ctx, mod)
	if err != nil {
		return nil, err
	}
	latest := policy.LatestVersion(vs)
	if latest == "" {
		return nil, policy.ErrUnknown
	}
	return f.p.GoMod(ctx, mod, latest)
}

// Licenses are read from the zip when it is cached; the proxy fetches a
// zip before deciding on it, so zip decisions always have them.
func (f serveFacts) Licenses(ctx context.Context, mod, version string) ([]policy.License, error) {
	if r, ok := f.licenses.Get(mod, version); ok {
		return licensesOf(r), nil
	}
	b, ok, err := f.p.CachedZip(ctx, mod, version)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, policy.ErrUnknown
	}
	defer b.Close()
	ra, isRA := b.(io.ReaderAt)
	if !isRA {
		return nil, policy.ErrUnknown
	}
	r, err := f.licenses.Detect(mod, version, ra, b.Size())
	if err != nil {
		return nil, fmt.Errorf("%s@%s: license detection: %w", mod, version, err)
	}
	return licensesOf(r), nil
}

func licensesOf(r *license.Result) []policy.License {
	out := make([]policy.License, 0, len(r.IDs))
	for _, id := range r.IDs {
		out = append(out, policy.License{ID: id})
	}
	return out
}

// newVulnRefresher builds the vulnerability database refresher; the
// "module" source is fetched through p.
func newVulnRefresher(cfg vulndb.Config, p *proxy.Proxy, logger *slog.Logger) *vulndb.Refresher {
	return &vulndb.Refresher{
		Loader: &vulndb.Loader{Config: cfg, Fetcher: proxyModuleFetcher{p}, Logger: logger},
		Logger: logger,
	}
}
