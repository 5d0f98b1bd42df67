package modcache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/modgate/modgate/proxy/upstream"
)

// readyWindow is how recent an upstream answer must be for readiness
// without probing.
const readyWindow = 5 * time.Minute

// readinessProbe is a module path that cannot exist (the .invalid TLD is
// reserved), so probing it reveals nothing and costs the upstream little.
const readinessProbe = "modgate-readiness.invalid/probe"

// Ready reports whether the cache can serve: storage is writable and an
// upstream answered recently (any HTTP status counts as reachable).
func (c *Cache) Ready(ctx context.Context) error {
	c.init()
	key := "meta/_readyz"
	if err := c.Store.Put(ctx, key, strings.NewReader(c.now().String())); err != nil {
		return fmt.Errorf("storage not writable: %w", err)
	}
	if c.Upstream == nil {
		return nil
	}
	last := time.Unix(0, c.lastUpOK.Load())
	if c.now().Sub(last) < readyWindow {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.Upstream.List(ctx, readinessProbe)
	var ue *upstream.Error
	if err == nil || errors.As(err, &ue) && ue.Status != 0 && ue.Status < 500 {
		c.lastUpOK.Store(c.now().UnixNano())
		return nil
	}
	if errors.Is(err, upstream.ErrOff) {
		return nil // cache-only by configuration
	}
	return fmt.Errorf("upstream unreachable: %v", err)
}
