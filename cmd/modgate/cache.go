package main

import (
	"context"
	"fmt"
	"os"

	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/storage"
)

func runCache(ctx context.Context, app *App, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintf(app.Stderr, "Usage: modgate cache verify [--purge] [--storage-dir DIR]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return exitCode(2)
	}
	ge := readGoEnv(ctx, app)
	cfg := defaultConfig(app, ge)
	// Only storage_dir matters here, but unknown keys and type
	// mismatches in the file are still errors.
	if path := configPath(app, args[1:]); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("config: %w", err)}
		}
		if err := readConfigFile(path, data, &cfg); err != nil {
			return usageConfigError(err)
		}
	}
	fs := newFlagSet(app, "cache verify", "[--purge] [--storage-dir DIR]")
	fs.String("config", "", "YAML configuration `file` (env MODGATE_CONFIG)")
	fs.StringVar(&cfg.StorageDir, "storage-dir", cfg.StorageDir, "cache `directory`")
	purge := fs.Bool("purge", false, "remove artifacts that fail verification so they are refetched")
	if err := applyEnv(app, fs); err != nil {
		return err
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	store, err := storage.NewDisk(cfg.StorageDir)
	if err != nil {
		return err
	}
	c := &modcache.Cache{Store: store}
	bad := 0
	n, err := c.Verify(ctx, *purge, func(pr modcache.Problem) {
		bad++
		fmt.Fprintln(app.Stdout, pr)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "%d artifacts checked, %d bad\n", n, bad)
	if bad > 0 && !*purge {
		return exitCode(1)
	}
	return nil
}
