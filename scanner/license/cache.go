package license

import (
	"container/list"
	"io"
	"sync"

	"golang.org/x/sync/singleflight"
)

// DefaultMaxEntries bounds a [Cache] whose MaxEntries is zero.
const DefaultMaxEntries = 10000

// Cache memoizes detection results by module@version, least recently used
// first out. Concurrent requests for the same version share one detection.
// The zero value is ready to use and safe for concurrent use.
type Cache struct {
	// MaxEntries bounds the number of results kept. Zero means
	// DefaultMaxEntries.
	MaxEntries int

	group singleflight.Group

	mu    sync.Mutex // guards lru and items
	lru   list.List  // of *cacheItem, most recent at the front
	items map[string]*list.Element
}

type cacheItem struct {
	key string
	res *Result
}

func cacheKey(mod, version string) string { return mod + "@" + version }

// Get returns the cached result for mod@version.
func (c *Cache) Get(mod, version string) (*Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[cacheKey(mod, version)]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cacheItem).res, true
}

func (c *Cache) put(key string, res *Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = make(map[string]*list.Element)
	}
	if el, ok := c.items[key]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.items[key] = c.lru.PushFront(&cacheItem{key: key, res: res})
	limit := c.MaxEntries
	if limit <= 0 {
		limit = DefaultMaxEntries
	}
	for c.lru.Len() > limit {
		el := c.lru.Back()
		c.lru.Remove(el)
		delete(c.items, el.Value.(*cacheItem).key)
	}
}

// Len returns the number of cached results.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Do returns the cached result for mod@version, or runs detect, caches its
// result and returns it. Errors are not cached.
func (c *Cache) Do(mod, version string, detect func() (*Result, error)) (*Result, error) {
	if res, ok := c.Get(mod, version); ok {
		return res, nil
	}
	key := cacheKey(mod, version)
	v, err, _ := c.group.Do(key, func() (any, error) {
		if res, ok := c.Get(mod, version); ok {
			return res, nil
		}
		res, err := detect()
		if err != nil {
			return nil, err
		}
		c.put(key, res)
		return res, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*Result), nil
}

// Detect is [Detect] through the cache.
func (c *Cache) Detect(mod, version string, r io.ReaderAt, size int64) (*Result, error) {
	return c.Do(mod, version, func() (*Result, error) { return Detect(mod, version, r, size) })
}

// DetectFile is [DetectFile] through the cache.
func (c *Cache) DetectFile(mod, version, zipPath string) (*Result, error) {
	return c.Do(mod, version, func() (*Result, error) { return DetectFile(mod, version, zipPath) })
}
