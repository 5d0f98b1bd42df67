// Package gatetest starts an in-process modgate proxy in front of a
// hermetic [proxytest.Upstream], for tests of the parts that talk to
// modgate over HTTP (the CI check, the update bot). The proxy is the real
// one: verified caching, the facts service, the checksum database
// pass-through, the decision API, and whatever per-version decision the
// test supplies (lists and @latest follow from it, as in modgate).
package gatetest

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/api"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/proxytest"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// Gate is a running modgate proxy.
type Gate struct {
	// URL is the proxy's base URL, usable as GOPROXY.
	URL   string
	Proxy *proxy.Proxy
	Cache *modcache.Cache
	Facts *facts.Service
	Up    *proxytest.Upstream
	// StorageDir is the proxy's cache directory.
	StorageDir string
}

// Start starts a modgate proxy in front of up that decides each version
// with decide (nil allows everything). It is closed in t.Cleanup.
func Start(t testing.TB, up *proxytest.Upstream, decide proxy.DecideFunc) *Gate {
	t.Helper()
	dir := t.TempDir()
	store, err := storage.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := upstream.ParseList(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	client := &upstream.Client{Entries: entries, Timeout: 10 * time.Second, Logger: logger}
	db, err := checksum.ParseGOSUMDB(up.SumDBKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &checksum.Verifier{DB: db, Upstream: client, Store: store, Logger: logger}
	c := &modcache.Cache{Upstream: client, Verifier: v, Store: store, Logger: logger,
		// Tests add upstream versions at run time and expect to see them.
		ListTTL: time.Nanosecond, NotFoundTTL: -1}
	f := &facts.Service{Source: c, Logger: logger}
	d := proxy.Filter{Facts: f, Func: decide}
	p := &proxy.Proxy{Cache: c, Facts: f, Decider: d, Logger: logger}
	mux := http.NewServeMux()
	mux.Handle("/sumdb/", &checksum.Passthrough{Verifier: v, Logger: logger})
	mux.Handle("/api/v1/", &api.Handler{Decider: d, Facts: f})
	mux.Handle("/", p)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); c.Wait() })
	return &Gate{URL: srv.URL, Proxy: p, Cache: c, Facts: f, Up: up, StorageDir: dir}
}

// GOSUMDB routes checksum database traffic through the gate.
func (g *Gate) GOSUMDB() string {
	return g.Up.SumDBKey + " " + g.URL + "/sumdb/" + g.Up.SumDBName
}

// GoEnv returns an environment for the real go command using the gate as
// GOPROXY and its /sumdb/ pass-through as GOSUMDB, with fresh caches.
func (g *Gate) GoEnv(t testing.TB) []string {
	env := g.Up.GoEnv(t, g.URL)
	for i, kv := range env {
		if strings.HasPrefix(kv, "GOSUMDB=") {
			env[i] = "GOSUMDB=" + g.GOSUMDB()
		}
	}
	return env
}
