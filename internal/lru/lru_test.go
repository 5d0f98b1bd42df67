package lru

import (
	"fmt"
	"sync"
	"testing"
)

func TestBoundAndSecondChance(t *testing.T) {
	c := New[string, int](3)
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3)
	c.Get("a") // used: survives the next eviction
	c.Put("d", 4)
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	if _, ok := c.Get("a"); !ok {
		t.Error("a was used and evicted anyway")
	}
	if _, ok := c.Get("b"); ok {
		t.Error("b, the least recently used, survived")
	}
	if v, ok := c.Get("d"); !ok || v != 4 {
		t.Errorf("d = %v, %v", v, ok)
	}
}

func TestPutReplacesAndDeleteFreesSlot(t *testing.T) {
	c := New[string, int](2)
	c.Put("a", 1)
	c.Put("a", 2)
	if v, _ := c.Get("a"); v != 2 || c.Len() != 1 {
		t.Errorf("after replacing: a = %d, Len = %d", v, c.Len())
	}
	c.Put("b", 3)
	c.Delete("a")
	c.Put("c", 4) // reuses a's slot; b must stay
	c.Put("a", 5) // now full: evicts one of b, c
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	if v, ok := c.Get("a"); !ok || v != 5 {
		t.Errorf("a = %v, %v; want 5", v, ok)
	}
}

// TestHitRatioUnderChurn: a hot set that fits survives a stream of
// one-off keys (a map that starts over when full would lose it).
func TestHitRatioUnderChurn(t *testing.T) {
	c := New[string, int](100)
	hot := make([]string, 50)
	for i := range hot {
		hot[i] = fmt.Sprint("hot", i)
		c.Put(hot[i], i)
	}
	misses := 0
	for i := range 10000 {
		c.Put(fmt.Sprint("cold", i), i)
		for _, k := range hot {
			if _, ok := c.Get(k); !ok {
				misses++
				c.Put(k, 0)
			}
		}
	}
	if misses > 0 {
		t.Errorf("%d misses on the hot set under churn, want 0", misses)
	}
}

func TestConcurrent(t *testing.T) {
	c := New[int, int](64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := (i * (g + 1)) % 200
				c.Put(k, i)
				c.Get(k)
				if i%7 == 0 {
					c.Delete(k)
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > 64 {
		t.Errorf("Len = %d, over the bound of 64", n)
	}
}

func BenchmarkGetParallel(b *testing.B) {
	c := New[string, int](1000)
	for i := range 1000 {
		c.Put(fmt.Sprint(i), i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Get("500")
			i++
		}
	})
}
