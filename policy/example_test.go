package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/facts/factstest"
)

// Evaluating a complete input document: a version first seen two days ago
// under a seven-day cooldown is denied until the cooldown ends.
func ExampleEngine_Evaluate() {
	ctx := context.Background()
	eng, err := policy.NewEngine(ctx, policy.Options{
		Config: &policy.Config{Cooldown: policy.CooldownConfig{Days: 7}},
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	res, err := eng.Evaluate(ctx, policy.Input{
		Module:       "example.com/m",
		Version:      "v1.4.0",
		Kind:         "zip",
		FirstSeen:    now.Add(-48 * time.Hour),
		Released:     now.Add(-48 * time.Hour),
		ReleaseBasis: facts.BasisFirstSeen,
		Now:          now,
		Update:       policy.Update{Previous: "v1.3.2", Type: "minor"},
	})
	if err != nil {
		panic(err)
	}
	for _, v := range res.Deny {
		fmt.Printf("%s: %s\n", v.Rule, v.Msg)
	}
	fmt.Println("valid until", res.ValidUntil.Format(time.RFC3339))
	// Output:
	// cooldown: example.com/m@v1.4.0 is too new: first seen 2025-01-08T00:00:00Z (2 days ago); the minimum release age for a minor update is 7 days
	// valid until 2025-01-15T00:00:00Z
}

// Deciding through the facts service, as the proxy does: modgate first
// listed example.com/m ten days ago, when it had only v1.3.2, and saw
// v1.4.0 listed two days ago. Under a seven-day cooldown v1.4.0 is denied
// (its age runs from when modgate first saw it, whatever its .info time
// says), the nearest allowed version is suggested, and the filtered list
// hides it.
func ExampleEngine_Decider() {
	ctx := context.Background()
	now := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	clock := now.Add(-48 * time.Hour)
	src := &factstest.Source{}
	src.Add("example.com/m", "v1.3.2", now.AddDate(0, -6, 0), "")
	src.Add("example.com/m", "v1.4.0", now.AddDate(0, -6, 0), "")
	src.SeenAt("example.com/m", now.Add(-10*24*time.Hour), "v1.3.2")
	svc := &facts.Service{Source: src, Now: func() time.Time { return clock }}
	if _, err := svc.Module(ctx, "example.com/m"); err != nil { // two days ago
		panic(err)
	}
	clock = now
	eng, err := policy.NewEngine(ctx, policy.Options{
		Config: &policy.Config{Cooldown: policy.CooldownConfig{Days: 7}},
		Facts:  svc,
		Now:    func() time.Time { return clock },
	})
	if err != nil {
		panic(err)
	}
	d, err := eng.Decider().Decide(ctx, proxy.Query{Module: "example.com/m", Version: "v1.4.0", Kind: proxy.KindZip})
	if err != nil {
		panic(err)
	}
	for _, v := range d.Deny {
		fmt.Printf("%s: %s\n", v.Rule, v.Msg)
	}
	fmt.Println("suggest", d.Suggest)
	l, err := eng.Decider().List(ctx, proxy.Query{Module: "example.com/m", Kind: proxy.KindList})
	if err != nil {
		panic(err)
	}
	fmt.Println("list", l.Allowed)
	// Output:
	// cooldown: example.com/m@v1.4.0 is too new: first seen 2025-01-08T00:00:00Z (2 days ago); the minimum release age for a minor update is 7 days
	// suggest v1.3.2
	// list [v1.3.2]
}
