package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// BenchmarkColdLatestCooldown measures the first @latest of a module with
// 150 versions on a cold proxy with a 7-day cooldown, the newest 5
// released (by .info time) within the cooldown: every iteration is a new
// server on empty storage. It reports the .info files fetched per answer,
// which must be the 6 candidates tried newest first (5 too young, then the
// one served), not the 150 listed.
//
//	go test ./cmd/modgate -run '^$' -bench ColdLatestCooldown -benchtime 20x
func BenchmarkColdLatestCooldown(b *testing.B) {
	const n, young = 150, 5
	clock := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var mods []proxytest.Module
	for i := range n {
		at := clock.AddDate(0, 0, -400+i)
		if i >= n-young {
			at = clock.Add(-time.Duration(n-i) * time.Hour)
		}
		mods = append(mods, proxytest.Module{Path: "example.com/many", Version: fmt.Sprintf("v1.%d.%d", i/10, i%10), Time: at,
			GoMod: []byte("module example.com/many\n\ngo 1.21\n"), Files: map[string]string{"m.go": "package many\n"}})
	}
	up := proxytest.New(b, append(proxytest.Fixtures(b), mods...))
	ctx := context.Background()
	infos := 0
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		cfgFile := filepath.Join(dir, "modgate.yaml")
		os.WriteFile(cfgFile, []byte("upstream: "+up.URL+"\nsumdb: "+up.SumDBKey+"\nstorage_dir: "+filepath.Join(dir, "cache")+
			"\naccess_log: false\nlog_level: error\nvulndb:\n  source: none\n  refresh: \"off\"\npolicy:\n  cooldown: {days: 7}\n"), 0o644)
		app, _, _ := testApp()
		cfg, ge, _, err := loadServeConfig(ctx, app, "serve", []string{"--config", cfgFile})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := newServerClock(ctx, app, cfg, ge, func() time.Time { return clock })
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.core.vulns.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		up.ResetCounts()
		req := httptest.NewRequest("GET", "/example.com/many/@latest", nil)
		rec := httptest.NewRecorder()
		b.StartTimer()
		srv.handler.ServeHTTP(rec, req)
		b.StopTimer()
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"v1.14.4"`) {
			b.Fatalf("@latest = %d %s, want v1.14.4", rec.Code, rec.Body)
		}
		for p, c := range up.Counts() {
			if strings.HasPrefix(p, "/example.com/many/@v/") && strings.HasSuffix(p, ".info") {
				infos += c
			}
		}
		srv.core.close()
		b.StartTimer()
	}
	b.ReportMetric(float64(infos)/float64(b.N), "info-fetches/op")
}
