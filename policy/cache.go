package policy

import (
	"hash/maphash"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// cacheKey identifies a decision within one module. The policy digest and
// vulnerability DB snapshot are checked against the entry rather than being
// part of the key, so a change invalidates every entry at once.
type cacheKey struct {
	version  string
	kind     Kind
	rev      string // the module facts' revision
	released int64  // the release time (ns) and how it was obtained
	basis    string
	infoTime int64
	client   string // only when rules read input.client
}

type cacheEntry struct {
	res      Result
	digest   string
	snapshot string
	expires  int64 // unix ns
	counters []prometheus.Counter
	// Pre-encoded decision log fields, set when a decision log is on.
	input, result, bundles []byte
}

// decisionCache is a sharded map module -> key -> entry. Sharding by module
// keeps Invalidate(module) O(1) and lookups contention-free in practice.
type decisionCache struct {
	seed     maphash.Seed
	perShard int
	shards   [32]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex // guards m and n
	m  map[string]map[cacheKey]*cacheEntry
	n  int
}

func newDecisionCache(size int) *decisionCache {
	c := &decisionCache{seed: maphash.MakeSeed(), perShard: max(1, size/32)}
	for i := range c.shards {
		c.shards[i].m = map[string]map[cacheKey]*cacheEntry{}
	}
	return c
}

func (c *decisionCache) shard(module string) *cacheShard {
	return &c.shards[maphash.String(c.seed, module)%uint64(len(c.shards))]
}

// get returns the live entry for (module, key) made under digest and
// snapshot, or nil.
func (c *decisionCache) get(module string, key cacheKey, digest, snapshot string, now int64) *cacheEntry {
	s := c.shard(module)
	s.mu.RLock()
	e := s.m[module][key]
	s.mu.RUnlock()
	if e == nil || e.expires <= now || e.digest != digest || e.snapshot != snapshot {
		return nil
	}
	return e
}

func (c *decisionCache) put(module string, key cacheKey, e *cacheEntry) {
	s := c.shard(module)
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.m[module]
	if mm == nil {
		mm = map[cacheKey]*cacheEntry{}
		s.m[module] = mm
	}
	if _, ok := mm[key]; !ok {
		s.n++
	}
	mm[key] = e
	// Over budget: drop whole modules (map order is arbitrary, which is
	// good enough as an eviction policy for a cache whose misses cost
	// one evaluation).
	for m, entries := range s.m {
		if s.n <= c.perShard {
			break
		}
		if m == module && len(s.m) > 1 {
			continue
		}
		s.n -= len(entries)
		delete(s.m, m)
	}
}

func (c *decisionCache) invalidate(module string) {
	s := c.shard(module)
	s.mu.Lock()
	s.n -= len(s.m[module])
	delete(s.m, module)
	s.mu.Unlock()
}

func (c *decisionCache) clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.n = 0
		s.mu.Unlock()
	}
}

func (c *decisionCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += s.n
		s.mu.RUnlock()
	}
	return n
}
