package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/proxytest"
)

// BenchmarkCachedHitPolicy measures cached .info/.mod/.zip hits through
// the fully wired server with the default policy (built-in rules, decision
// cache warm) against the same server with the policy unplugged. The
// issue's target: policy on ≥ 90% of the throughput of policy off.
//
//	go test ./cmd/modgate -run '^$' -bench CachedHitPolicy -count 5
func BenchmarkCachedHitPolicy(b *testing.B) {
	up := proxytest.New(b, proxytest.Fixtures(b))
	dir := b.TempDir()
	cfgFile := filepath.Join(dir, "modgate.yaml")
	os.WriteFile(cfgFile, []byte("upstream: "+up.URL+"\nsumdb: "+up.SumDBKey+"\nstorage_dir: "+filepath.Join(dir, "cache")+
		"\naccess_log: false\nlog_level: error\nvulndb:\n  source: none\n  refresh: \"off\"\n"), 0o644)
	app, _, _ := testApp()
	ctx := context.Background()
	cfg, ge, _, err := loadServeConfig(ctx, app, "serve", []string{"--config", cfgFile})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := newServer(ctx, app, cfg, ge)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.core.vulns.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	paths := []string{"/example.com/hello/@v/v1.1.0.info", "/example.com/hello/@v/v1.1.0.mod", "/example.com/hello/@v/v1.1.0.zip",
		"/example.com/app/@v/v1.0.0.info", "/example.com/app/@v/v1.0.0.mod", "/example.com/app/@v/v1.0.0.zip"}
	reqs := make([]*http.Request, len(paths))
	for i, p := range paths {
		reqs[i] = httptest.NewRequest("GET", p, nil)
		rec := httptest.NewRecorder()
		srv.handler.ServeHTTP(rec, reqs[i]) // warm the cache and the decision cache
		if rec.Code != 200 {
			b.Fatalf("GET %s = %d %s", p, rec.Code, rec.Body)
		}
	}
	// The same cache and facts without a policy.
	off := &proxy.Proxy{Cache: srv.core.cache, Facts: srv.core.facts}
	for _, mode := range []struct {
		name string
		h    http.Handler
	}{{"on", srv.proxy}, {"off", off}} {
		b.Run("policy="+mode.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					rec := httptest.NewRecorder()
					mode.h.ServeHTTP(rec, reqs[i%len(reqs)])
					if rec.Code != 200 {
						b.Errorf("status %d", rec.Code)
					}
					i++
				}
			})
		})
	}
}
