package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is set with -ldflags "-X main.version=v1.2.3"; when empty the
// module version from the build info is used.
var version string

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func runVersion(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "modgate %s\n", buildVersion())
	return nil
}
