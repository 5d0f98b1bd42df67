package policy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// fakeFacts is an in-memory ModuleFacts.
type fakeFacts struct {
	versions map[string][]string
	gomod    map[string]string
	licenses map[string][]License // module@version; absent means anyLicense
	// anyLicense, when set, is every other version's licenses; nil means
	// ErrUnknown.
	anyLicense []License
	err        error
	loads      atomic.Int32 // Versions calls
}

func (f *fakeFacts) Versions(_ context.Context, mod string) ([]string, error) {
	f.loads.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	return f.versions[mod], nil
}

func (f *fakeFacts) LatestGoMod(_ context.Context, mod string) ([]byte, error) {
	g, ok := f.gomod[mod]
	if !ok {
		return nil, ErrUnknown
	}
	return []byte(g), nil
}

func (f *fakeFacts) Licenses(_ context.Context, mod, v string) ([]License, error) {
	l, ok := f.licenses[mod+"@"+v]
	if !ok {
		if f.anyLicense != nil {
			return f.anyLicense, nil
		}
		return nil, ErrUnknown
	}
	return l, nil
}

// fakeVulns is an in-memory VulnSource keyed by module@version.
type fakeVulns struct {
	mu    sync.Mutex
	m     map[string][]Vuln
	snap  string
	calls int
	err   error
}

func (f *fakeVulns) Vulns(_ context.Context, mod, v string) ([]Vuln, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.m[mod+"@"+v], nil
}

func (f *fakeVulns) Snapshot() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeVulns) set(snap string, key string, vs ...Vuln) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = snap
	if f.m == nil {
		f.m = map[string][]Vuln{}
	}
	f.m[key] = vs
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func ptr[T any](v T) *T { return &v }

func rulesOf(vs []Violation) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ","
		}
		s += v.Rule
	}
	return s
}

func mustEngine(ctx context.Context, opts Options) *Engine {
	e, err := NewEngine(ctx, opts)
	if err != nil {
		panic(fmt.Sprintf("NewEngine: %v", err))
	}
	return e
}
