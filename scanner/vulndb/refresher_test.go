package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/scanner/internal/goproxytest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRefresherKeepsSnapshotOnFailure(t *testing.T) {
	srv := goproxytest.New(t, vulndbModule(t, version1, modTime1))
	ff := &failingFetcher{ModuleFetcher: &testFetcher{URL: srv.URL}, fail: true}
	now := modTime2
	r := &Refresher{
		Loader: &Loader{Fetcher: ff, Logger: discard},
		Logger: discard,
		Now:    func() time.Time { return now },
	}
	ctx := context.Background()

	// First load fails: not ready, nothing served.
	if err := r.Refresh(ctx); err == nil {
		t.Fatal("Refresh with failing upstream succeeded")
	}
	if r.Current() != nil || !errors.Is(r.Ready(), ErrNotLoaded) || !strings.Contains(r.Ready().Error(), "upstream down") {
		t.Errorf("after failed first load: Current %v, Ready %v", r.Current(), r.Ready())
	}

	ff.mu.Lock()
	ff.fail = false
	ff.mu.Unlock()
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	first := r.Current()
	if first == nil || r.Ready() != nil || first.Len() != 15 {
		t.Fatalf("after success: Current %v, Ready %v", first, r.Ready())
	}

	// A failing refresh keeps the previous snapshot.
	ff.mu.Lock()
	ff.fail = true
	ff.mu.Unlock()
	now = now.Add(time.Hour)
	if err := r.Refresh(ctx); err == nil {
		t.Fatal("Refresh with failing upstream succeeded")
	}
	if r.Current() != first || r.Ready() != nil {
		t.Errorf("failed refresh replaced or dropped the snapshot")
	}
	st := r.Status()
	if st.Failures != 2 || st.ConsecutiveFailures != 1 || st.LastError == nil || !st.LastSuccess.Equal(modTime2) || !st.LastAttempt.Equal(now) {
		t.Errorf("Status = %+v", st)
	}
	if got := st.Snapshot.Age(now); got != now.Sub(modTime1) {
		t.Errorf("Age = %v, want %v", got, now.Sub(modTime1))
	}

	// Metrics.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			got[mf.GetName()] = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			got[mf.GetName()] = m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"modgate_vulndb_entries":                        15,
		"modgate_vulndb_refresh_failures_total":         2,
		"modgate_vulndb_snapshot_age_seconds":           now.Sub(modTime1).Seconds(),
		"modgate_vulndb_snapshot_info":                  1,
		"modgate_vulndb_last_success_timestamp_seconds": float64(modTime2.Unix()),
	} {
		if got[name] != want {
			t.Errorf("metric %s = %v, want %v", name, got[name], want)
		}
	}
}

func TestRefresherRunPicksUpNewVersion(t *testing.T) {
	srv := goproxytest.New(t, vulndbModule(t, version1, modTime1))
	r := &Refresher{
		Loader: &Loader{Config: Config{Refresh: "@every 1s"}, Fetcher: &testFetcher{URL: srv.URL}, Logger: discard},
		Logger: discard,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitFor(t, func() bool { return r.Current() != nil })
	first := r.Current()
	if err := srv.Add(vulndbModule(t, version2, modTime2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.Current().ID != first.ID })
	if got := r.Current().Modified; !got.Equal(modTime2) {
		t.Errorf("new snapshot Modified = %v, want %v", got, modTime2)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string // "" means valid
	}{
		{Config{}, ""},
		{Config{Source: "module", Refresh: "@every 6h"}, ""},
		{Config{Source: "https://vulndb.example.com", Refresh: "0 */2 * * *"}, ""},
		{Config{Source: "file:///srv/vulndb", Refresh: "off"}, ""},
		{Config{Source: "none", Extra: []string{"/srv/osv"}}, ""},
		{Config{Source: "ftp://x"}, "vulndb.source"},
		{Config{Source: "https://"}, "vulndb.source"},
		{Config{Source: "file://"}, "vulndb.source"},
		{Config{ModulePath: "not a path"}, "vulndb.module_path"},
		{Config{Extra: []string{" "}}, "vulndb.extra[0]"},
		{Config{Refresh: "every hour"}, "vulndb.refresh"},
	} {
		err := tc.c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v.Validate() = %v, want nil", tc.c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v.Validate() = %v, want error naming %s", tc.c, err, tc.want)
		}
	}
	// Every problem at once, each naming its field.
	c := Config{Source: "ftp://x", Extra: []string{""}, Refresh: "every hour"}
	errs := yamlconf.Split(c.Validate())
	var fe *yamlconf.FieldError
	if len(errs) != 3 || !errors.As(errs[2], &fe) || fe.Field != "vulndb.refresh" {
		t.Errorf("%+v.Validate() = %q, want 3 field errors", c, errs)
	}
}

func TestRefresherRetriesFailedLoad(t *testing.T) {
	srv := goproxytest.New(t, vulndbModule(t, version1, modTime1))
	ff := &failingFetcher{ModuleFetcher: &testFetcher{URL: srv.URL}, fail: true}
	r := &Refresher{
		Loader:   &Loader{Config: Config{Refresh: "@every 6h"}, Fetcher: ff, Logger: discard},
		Logger:   discard,
		RetryMin: 20 * time.Millisecond,
		RetryMax: 50 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	waitFor(t, func() bool { return r.Status().Failures >= 3 })
	if r.Current() != nil {
		t.Fatal("snapshot while the upstream fails")
	}
	ff.mu.Lock()
	ff.fail = false
	ff.mu.Unlock()
	// Recovers long before the 6h schedule.
	waitFor(t, func() bool { return r.Current() != nil })
	if st := r.Status(); st.ConsecutiveFailures != 0 || st.LastError != nil {
		t.Errorf("after recovery: %+v", st)
	}
}

// TestHandlerDuringSwaps serves requests while snapshots are swapped, for
// the race detector.
func TestHandlerDuringSwaps(t *testing.T) {
	srv := goproxytest.New(t, vulndbModule(t, version1, modTime1))
	r := &Refresher{Loader: &Loader{Fetcher: &testFetcher{URL: srv.URL}, Logger: discard}, Logger: discard}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Source: r}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			v := fmt.Sprintf("v0.0.0-20240603%06d-cccccccccccc", i)
			srv.Add(vulndbModule(t, v, modTime2.Add(time.Duration(i)*time.Hour)))
			r.Refresh(context.Background())
		}
	}()
	for {
		select {
		case <-done:
			if r.Current().Modified.Before(modTime2) {
				t.Errorf("swaps did not happen")
			}
			return
		default:
		}
		for _, p := range []string{"/index/modules.json.gz", "/ID/GO-2099-0001.json.gz", "/index/db.json"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			if rec.Code != 200 {
				t.Fatalf("GET %s = %d", p, rec.Code)
			}
		}
		r.Current().Affects("example.com/multi", "v1.3.0")
	}
}
