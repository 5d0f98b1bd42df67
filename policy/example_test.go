package policy_test

import (
	"context"
	"fmt"
	"time"

	"github.com/modgate/modgate/policy"
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
		Module:    "example.com/m",
		Version:   "v1.4.0",
		Kind:      "zip",
		FirstSeen: now.Add(-48 * time.Hour),
		Now:       now,
		Update:    policy.Update{Previous: "v1.3.2", Type: "minor"},
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
