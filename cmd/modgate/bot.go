package main

import (
	"context"
	"errors"
)

// runBot is replaced when the bot command lands.
func runBot(ctx context.Context, app *App, args []string) error {
	return errors.New("not yet available in this build")
}
