// Package lru owns modgate's bounded in-memory caches: a map with a size
// bound and CLOCK eviction (an LRU approximation), so that a cache under
// churn drops the entries nobody used lately instead of starting over.
//
// CLOCK rather than a strict LRU list because lookups dominate: a hit
// only sets a flag, under a read lock, so concurrent hits never contend;
// eviction gives every entry used since the hand last passed a second
// chance.
package lru

import (
	"sync"
	"sync/atomic"
)

// Cache is a bounded map. The zero value is not usable; call New. It is
// safe for concurrent use. Values are stored as given: share only values
// that are not modified after Put.
type Cache[K comparable, V any] struct {
	max int

	mu   sync.RWMutex // protects m, ring and hand
	m    map[K]*slot[V]
	ring []K // entry keys by slot; a key whose slot moved is a free slot
	hand int
}

type slot[V any] struct {
	v   V
	ref atomic.Bool // used since the hand last passed
	i   int         // index in ring
}

// New returns a cache holding at most n entries (at least 1).
func New[K comparable, V any](n int) *Cache[K, V] {
	n = max(n, 1)
	return &Cache[K, V]{max: n, m: make(map[K]*slot[V])}
}

// Get returns the value for k.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	s := c.m[k]
	c.mu.RUnlock()
	if s == nil {
		var zero V
		return zero, false
	}
	if !s.ref.Load() {
		s.ref.Store(true)
	}
	return s.v, true
}

// Put sets the value for k, evicting an entry not used lately if the
// cache is full.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k]; old != nil {
		c.m[k] = &slot[V]{v: v, i: old.i} // readers may hold old
		c.m[k].ref.Store(true)
		return
	}
	if len(c.ring) < c.max {
		c.m[k] = &slot[V]{v: v, i: len(c.ring)}
		c.ring = append(c.ring, k)
		return
	}
	for {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		i := c.hand
		c.hand++
		s := c.m[c.ring[i]]
		if s != nil && s.i == i && s.ref.Load() {
			s.ref.Store(false) // a second chance
			continue
		}
		if s != nil && s.i == i {
			delete(c.m, c.ring[i])
		}
		c.ring[i] = k
		c.m[k] = &slot[V]{v: v, i: i}
		return
	}
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k) // its ring slot is reused when the hand reaches it
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
