package proxy

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
const readinessProbe = "modgate-readiness.invalid/probe/@v/list"

// Ready reports whether the proxy can serve: storage is writable and an
// upstream answered recently (any HTTP status counts as reachable).
func (p *Proxy) Ready(ctx context.Context) error {
	p.init()
	key := "meta/_readyz"
	if err := p.Store.Put(ctx, key, strings.NewReader(p.now().String())); err != nil {
		return fmt.Errorf("storage not writable: %w", err)
	}
	if p.Upstream == nil {
		return nil
	}
	last := time.Unix(0, p.lastUpOK.Load())
	if p.now().Sub(last) < readyWindow {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := p.Upstream.Get(ctx, readinessProbe, upstream.Meta)
	if err == nil {
		resp.Body.Close()
	}
	var ue *upstream.Error
	if err == nil || errors.As(err, &ue) && ue.Status != 0 && ue.Status < 500 {
		p.lastUpOK.Store(p.now().UnixNano())
		return nil
	}
	if errors.Is(err, upstream.ErrOff) {
		return nil // cache-only by configuration
	}
	return fmt.Errorf("upstream unreachable: %v", err)
}
