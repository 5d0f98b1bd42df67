package modcache

import (
	"context"
	"sync"
)

// flightGroup deduplicates concurrent calls with the same key. Unlike
// x/sync/singleflight, the shared work runs on a context detached from the
// first caller and is cancelled only when every waiter has gone, so one
// impatient client cannot abort a download others are waiting for.
type flightGroup struct {
	mu    sync.Mutex // protects calls
	calls map[string]*flightCall
}

type flightCall struct {
	done    chan struct{}
	val     any
	err     error
	waiters int // protected by flightGroup.mu
	cancel  context.CancelFunc
}

// Do runs fn once for all concurrent callers with key and returns its
// result. shared reports whether this caller joined an existing call.
func (g *flightGroup) Do(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (val any, err error, shared bool) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*flightCall)
	}
	c, ok := g.calls[key]
	if ok {
		c.waiters++
	} else {
		runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &flightCall{done: make(chan struct{}), waiters: 1, cancel: cancel}
		g.calls[key] = c
		go func() {
			defer cancel()
			c.val, c.err = fn(runCtx)
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err, ok
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
		}
		g.mu.Unlock()
		return nil, ctx.Err(), ok
	}
}
