package facts

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Fetcher fetches whole modules through the service, for loaders that
// need one (the vulnerability database module): the latest version as
// the go command resolves it, and the verified zip. It implements
// vulndb.ModuleFetcher.
type Fetcher struct {
	S *Service
	// MaxAge, when positive, refetches the module's list and @latest
	// first when the cached ones are older, so a periodic or one-shot
	// load sees what is new even where the cache would still answer from
	// an older copy. Zero uses the cache's own freshness.
	MaxAge time.Duration
}

// Latest returns the version `go get path@latest` would resolve to with
// no policy, and its .info time.
func (f Fetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	if f.MaxAge > 0 {
		// Either may be absent (an untagged module has no list, a tagged
		// one may have no @latest); the facts below say what exists.
		f.S.Source.Refresh(ctx, path, f.MaxAge)
		f.S.Source.RefreshLatest(ctx, path, f.MaxAge)
	}
	m, err := f.S.Module(ctx, path)
	if err != nil {
		return "", time.Time{}, err
	}
	p, err := f.S.ResolveLatest(ctx, m, nil)
	if err != nil {
		return "", time.Time{}, err
	}
	if p.Version == "" {
		return "", time.Time{}, fmt.Errorf("%s@latest: no version found", path)
	}
	t, err := f.S.Time(ctx, path, p.Version)
	return p.Version, t, err
}

// Zip writes the verified zip of path@version to dst.
func (f Fetcher) Zip(ctx context.Context, path, version string, dst io.Writer) error {
	b, err := f.S.Source.Zip(ctx, path, version)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := io.Copy(dst, b); err != nil {
		return fmt.Errorf("%s@%s: %w", path, version, err)
	}
	return nil
}
