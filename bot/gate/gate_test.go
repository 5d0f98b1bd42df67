package gate_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/modgate/modgate/bot/gate"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/gatetest"
	"github.com/modgate/modgate/proxy/proxytest"
)

type denyOne struct{ mv string }

func (d denyOne) Decide(_ context.Context, q proxy.Query) (proxy.Decision, error) {
	if q.Module+"@"+q.Version == d.mv {
		return proxy.Decision{Deny: []proxy.Violation{{Rule: "blocklist", Msg: "no", Fix: "pick another"}}}, nil
	}
	return proxy.Decision{}, nil
}

func TestClientAgainstModgate(t *testing.T) {
	up := proxytest.New(t, proxytest.Fixtures(t))
	g := gatetest.Start(t, up, denyOne{"example.com/hello@v1.2.0"})
	c := &gate.Client{URL: g.URL, ListURL: up.URL}
	ctx := context.Background()

	vs, err := c.Versions(ctx, "example.com/hello")
	if err != nil || !slices.Equal(vs, []string{"v1.0.0", "v1.1.0", "v1.3.0-pre"}) {
		t.Errorf("Versions = %v, %v; want the denied v1.2.0 hidden", vs, err)
	}
	all, err := c.AllVersions(ctx, "example.com/hello")
	if err != nil || !slices.Contains(all, "v1.2.0") {
		t.Errorf("AllVersions = %v, %v", all, err)
	}
	if vs, err := c.Versions(ctx, "example.com/nosuch"); err != nil || len(vs) != 0 {
		t.Errorf("Versions(unknown) = %v, %v", vs, err)
	}
	info, err := c.Info(ctx, "example.com/hello", "v1.1.0")
	if err != nil || info.Version != "v1.1.0" || info.Time.IsZero() {
		t.Errorf("Info = %+v, %v", info, err)
	}
	if _, err := c.GoMod(ctx, "example.com/hello", "v1.2.0"); err == nil {
		t.Error("GoMod of a denied version succeeded")
	}
	ds, err := c.Decide(ctx, []gate.ModuleVersion{{Path: "example.com/hello", Version: "v1.2.0"}, {Path: "example.com/hello", Version: "v1.1.0"}})
	if err != nil || len(ds) != 2 {
		t.Fatalf("Decide = %v, %v", ds, err)
	}
	if ds[0].Allowed || ds[0].Reason() != "blocklist: no (pick another)" || !ds[1].Allowed {
		t.Errorf("Decide = %+v", ds)
	}
	if _, err := (&gate.Client{URL: g.URL + "/nope"}).Decide(ctx, []gate.ModuleVersion{{Path: "a", Version: "v1.0.0"}}); err == nil {
		t.Error("Decide against a wrong URL succeeded")
	}
	var e *gate.Error
	if _, err := c.Info(ctx, "example.com/hello", "v1.9.9"); !errors.As(err, &e) || !errors.Is(err, gate.ErrNotFound) {
		t.Errorf("Info(missing) = %v, want a *gate.Error matching ErrNotFound", err)
	}
}
