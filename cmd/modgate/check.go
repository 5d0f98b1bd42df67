package main

import (
	"context"
	"errors"
)

// runCheck is replaced when the check command lands.
func runCheck(ctx context.Context, app *App, args []string) error {
	return errors.New("not yet available in this build")
}
