package main

import (
	"context"
	"errors"
)

// runPolicy is replaced when the policy command lands.
func runPolicy(ctx context.Context, app *App, args []string) error {
	return errors.New("not yet available in this build")
}
