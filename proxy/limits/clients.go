package limits

import (
	"context"
	"hash/maphash"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// clientLimiter bounds the requests in flight per client address. Its
// state is sharded so that concurrent requests from different clients
// rarely share a lock.
type clientLimiter struct {
	max    int
	wait   time.Duration
	seed   maphash.Seed
	shards [32]clientShard
}

type clientShard struct {
	mu sync.Mutex // protects m
	m  map[string]*clientSlots
}

// clientSlots is one client's semaphore; refs counts the requests holding
// or waiting for a slot, so the entry is dropped when the client is idle.
type clientSlots struct {
	sem  chan struct{}
	refs int
}

func newClientLimiter(max int, wait time.Duration) *clientLimiter {
	l := &clientLimiter{max: max, wait: wait, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*clientSlots)
	}
	return l
}

// acquire takes a slot for addr, waiting up to the queue timeout; it
// reports false when none came free (or ctx ended).
func (l *clientLimiter) acquire(ctx context.Context, addr string) (release func(), ok bool) {
	sh := &l.shards[maphash.String(l.seed, addr)%uint64(len(l.shards))]
	sh.mu.Lock()
	s := sh.m[addr]
	if s == nil {
		s = &clientSlots{sem: make(chan struct{}, l.max)}
		sh.m[addr] = s
	}
	s.refs++
	sh.mu.Unlock()
	done := func() {
		sh.mu.Lock()
		if s.refs--; s.refs == 0 {
			delete(sh.m, addr)
		}
		sh.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
	default:
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case s.sem <- struct{}{}:
		case <-t.C:
			done()
			return nil, false
		case <-ctx.Done():
			done()
			return nil, false
		}
	}
	return func() { <-s.sem; done() }, true
}

// clientAddr is the address requests are counted against: the peer, or
// for a trusted reverse proxy the nearest untrusted X-Forwarded-For entry.
func clientAddr(r *http.Request, trusted []*net.IPNet) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 || !inNets(host, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		if !inNets(h, trusted) {
			return h
		}
		host = h
	}
	return host
}

func inNets(host string, nets []*net.IPNet) bool {
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
