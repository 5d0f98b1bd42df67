// Command modgate is a dependency governance service for Go: a
// policy-enforcing GOPROXY, a CI check, and an update bot.
//
// Exit codes: 0 success, 1 failure or findings, 2 usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}
