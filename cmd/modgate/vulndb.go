package main

import (
	"context"
	"errors"
)

// runVulnDB is replaced when the vulndb command lands.
func runVulnDB(ctx context.Context, app *App, args []string) error {
	return errors.New("not yet available in this build")
}
