package proxy_test

// Benchmarks of the proxy's hot paths: cache hits for .info, .mod, .zip
// and @v/list, and request parsing. They are hermetic (a proxytest
// upstream on loopback) and measure the handler as `modgate serve` wires
// it, with Prometheus metrics on (and off, to price them). Run with
//
//	go test -run '^$' -bench . -benchmem ./proxy/
//
// The load harness in bench/ measures the same paths end to end against
// nginx; these isolate per-request CPU and allocations.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/proxytest"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// benchManyVersions is the version count of the synthetic module used to
// price list filtering; popular modules list hundreds of versions.
const benchManyVersions = 200

// benchModules returns the fixtures plus a module with a 1 MiB zip (served
// from disk rather than memory) and one with benchManyVersions versions.
func benchModules(b *testing.B) []proxytest.Module {
	b.Helper()
	mods := proxytest.Fixtures(b)
	mods = append(mods, proxytest.LargeModule(b, "example.com/bench/large", "v1.0.0", 1<<20))
	for i := range benchManyVersions {
		path := "example.com/bench/many"
		mods = append(mods, proxytest.Module{
			Path:    path,
			Version: fmt.Sprintf("v1.%d.0", i),
			GoMod:   []byte("module " + path + "\n\ngo 1.21\n"),
			Files:   map[string]string{"many.go": "package many\n"},
		})
	}
	return mods
}

// newBenchProxy wires a proxy as `modgate serve` does (disk storage,
// verifying client, checksum database through the upstream) in front of
// up. Lists stay fresh for an hour so list benchmarks measure cache hits.
func newBenchProxy(b *testing.B, up *proxytest.Upstream, withMetrics bool, decide proxy.DecideFunc) *proxy.Proxy {
	b.Helper()
	store, err := storage.NewDisk(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	entries, err := upstream.ParseList(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	client := &upstream.Client{Entries: entries, Timeout: 10 * time.Second, Logger: logger}
	db, err := checksum.ParseGOSUMDB(up.SumDBKey, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := &modcache.Cache{
		Upstream: client,
		Verifier: &checksum.Verifier{DB: db, Upstream: client, Store: store, Logger: logger},
		Store:    store,
		ListTTL:  time.Hour,
		Logger:   logger,
	}
	f := &facts.Service{Source: c, Logger: logger}
	p := &proxy.Proxy{Cache: c, Facts: f, Logger: logger}
	if decide != nil {
		p.Decider = proxy.Filter{Facts: f, Func: decide}
	}
	if withMetrics {
		reg := prometheus.NewRegistry()
		p.Metrics, c.Metrics = proxy.NewMetrics(reg), modcache.NewMetrics(reg)
	}
	b.Cleanup(c.Wait)
	return p
}

// benchDecide allows everything but, unlike a nil Decider, makes the
// proxy ask for every version.
func benchDecide(context.Context, proxy.Query) (proxy.Decision, error) {
	return proxy.Decision{}, nil
}

// benchGet serves one GET through p's handler and fails unless it is 200.
func benchGet(b *testing.B, h http.Handler, path string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("GET %s = %d %s", path, w.Code, w.Body.String())
	}
	return w
}

// BenchmarkServeCached measures cache hits through Proxy.ServeHTTP with a
// response recorder: the handler's own cost, without the network.
func BenchmarkServeCached(b *testing.B) {
	up := proxytest.New(b, benchModules(b))
	cases := []struct {
		name, path string
	}{
		{"info", "/example.com/hello/@v/v1.2.0.info"},
		{"mod", "/example.com/hello/@v/v1.2.0.mod"},
		{"zip-small", "/example.com/hello/@v/v1.2.0.zip"},                            // held in memory
		{"zip-1MiB", "/example.com/bench/large/@v/v1.0.0.zip"},                       // read from disk
		{"list-4", "/example.com/hello/@v/list"},                                     // 4 versions
		{"list-" + fmt.Sprint(benchManyVersions), "/example.com/bench/many/@v/list"}, // many versions
		{"info-escaped", "/example.com/!upper/!case/@v/v1.0.0.info"},
	}
	// "serve" is `modgate serve` without a policy; "nometrics" prices the
	// Prometheus instruments; "decider" adds a Decider that allows
	// everything, pricing the proxy's per-decision work (first-seen
	// look-ups, one decision per listed version) without any policy cost.
	configs := []struct {
		name    string
		metrics bool
		decider proxy.DecideFunc
	}{
		{"serve", true, nil},
		{"nometrics", false, nil},
		{"decider", true, benchDecide},
	}
	for _, cfg := range configs {
		p := newBenchProxy(b, up, cfg.metrics, cfg.decider)
		for _, c := range cases {
			benchGet(b, p, c.path) // warm: fetch, verify, commit
			b.Run(c.name+"/"+cfg.name, func(b *testing.B) {
				b.ReportAllocs()
				n := int64(benchGet(b, p, c.path).Body.Len())
				b.SetBytes(n)
				for b.Loop() {
					benchGet(b, p, c.path)
				}
			})
		}
	}
}

// BenchmarkServeLoopback measures cache hits over a real loopback HTTP
// connection with keep-alive, as clients see them (net/http included).
func BenchmarkServeLoopback(b *testing.B) {
	up := proxytest.New(b, benchModules(b))
	p := newBenchProxy(b, up, true, nil)
	srv := httptest.NewServer(p)
	b.Cleanup(srv.Close)
	client := srv.Client()
	cases := []struct {
		name, path string
	}{
		{"info", "/example.com/hello/@v/v1.2.0.info"},
		{"mod", "/example.com/hello/@v/v1.2.0.mod"},
		{"zip-1MiB", "/example.com/bench/large/@v/v1.0.0.zip"},
		{"list-4", "/example.com/hello/@v/list"},
	}
	get := func(b *testing.B, path string) int64 {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
		}
		return n
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(get(b, c.path))
			for b.Loop() {
				get(b, c.path)
			}
		})
	}
}

// BenchmarkServeCachedParallel is BenchmarkServeCached for .info under
// GOMAXPROCS goroutines, to expose lock contention on the caches and the
// metric vectors.
func BenchmarkServeCachedParallel(b *testing.B) {
	up := proxytest.New(b, proxytest.Fixtures(b))
	p := newBenchProxy(b, up, true, nil)
	const path = "/example.com/hello/@v/v1.2.0.info"
	benchGet(b, p, path)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Errorf("GET %s = %d", path, w.Code)
				return
			}
		}
	})
}

func BenchmarkParseRequest(b *testing.B) {
	paths := []struct{ name, path string }{
		{"info", "/github.com/open-policy-agent/opa/@v/v1.22.2.info"},
		{"zip-escaped", "/github.com/!burnt!sushi/toml/@v/v1.4.0.zip"},
		{"pseudo-mod", "/golang.org/x/exp/@v/v0.0.0-20240506185415-9bf2ced13842.mod"},
		{"list", "/github.com/open-policy-agent/opa/@v/list"},
		{"latest", "/github.com/open-policy-agent/opa/@latest"},
	}
	for _, c := range paths {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := proxy.ParseRequest(c.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkModuleFacts measures facts.Service.Module on a cached list: the
// cost every decision pays to learn a module's versions, latest and
// retractions, without the handler.
func BenchmarkModuleFacts(b *testing.B) {
	up := proxytest.New(b, benchModules(b))
	p := newBenchProxy(b, up, false, nil)
	ctx := context.Background()
	if _, err := p.Facts.Module(ctx, "example.com/bench/many"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Facts.Module(ctx, "example.com/bench/many"); err != nil {
			b.Fatal(err)
		}
	}
}
