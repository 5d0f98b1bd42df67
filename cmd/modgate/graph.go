package main

import (
	"context"
	"errors"
)

// runGraph is replaced when the graph command lands.
func runGraph(ctx context.Context, app *App, args []string) error {
	return errors.New("not yet available in this build")
}
