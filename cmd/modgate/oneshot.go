package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modgate/modgate/scanner/vulndb"
)

// sourceFlags are the flags of the commands that decide without serving
// (check, graph, policy eval, policy baseline). By default they build the
// same core as `modgate serve`: the configuration file (MODGATE_CONFIG),
// the upstream and checksum database from the go command's environment,
// the cache in the user cache directory, and the vulnerability database
// built from the vulnerability-DB module through that upstream.
type sourceFlags struct {
	config     string
	policyFile string
	upstream   string
	vulnDB     string
	noVulns    bool
}

func (f *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "modgate configuration `file` (env MODGATE_CONFIG): its upstream, storage, policy and vulndb settings apply")
	fs.StringVar(&f.policyFile, "policy", "", "policy configuration `file` (the proxy's YAML, or just its policy section) replacing the configuration's policy")
	fs.StringVar(&f.upstream, "upstream", "", "upstream `list` in GOPROXY syntax (default: the configuration's, else go env GOPROXY)")
	fs.StringVar(&f.vulnDB, "vulndb", "", "vulnerability database: a v1 database `URL` (file://, http(s)://), a directory of OSV files, module or none (default: the configuration's vulndb, else $GOVULNDB, else the vulnerability-DB module through the upstream, as modgate serve)")
	fs.BoolVar(&f.noVulns, "no-vulns", false, "use no vulnerability database")
}

func (f *sourceFlags) validate() error {
	if f.noVulns && f.vulnDB != "" {
		return fmt.Errorf("--no-vulns and --vulndb are exclusive")
	}
	return nil
}

// resolve builds the configuration the flags describe, with serve's
// loader: the file's problems, every one located, stop the command.
func (f *sourceFlags) resolve(ctx context.Context, app *App) (*Config, goEnv, error) {
	file := cmp.Or(f.config, app.Getenv("MODGATE_CONFIG"))
	override := func(cfg *Config) (func(string) bool, error) {
		set := map[string]bool{}
		if f.policyFile != "" {
			cfg.PolicyFile, set["policy_file"] = f.policyFile, true
		}
		if u := cmp.Or(f.upstream, app.Getenv("MODGATE_UPSTREAM")); u != "" {
			cfg.Upstream, set["upstream"] = u, true
		}
		src := f.vulnDB
		if src == "" && file == "" {
			src = app.Getenv("GOVULNDB")
		}
		if src != "" {
			cfg.VulnDB, set["vulndb"] = vulnDBConfig(src), true
		}
		return func(field string) bool { return set[strings.SplitN(field, ".", 2)[0]] }, nil
	}
	cfg, ge, err := loadConfig(ctx, app, file, override)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return nil, ge, err
		}
		return nil, ge, &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, ge, nil
}

// vulnDBConfig turns a --vulndb value into a source: a directory of OSV
// files (in-house advisories, test fixtures) or a source name or URL.
func vulnDBConfig(src string) vulndb.Config {
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		abs, _ := filepath.Abs(src)
		return vulndb.Config{Source: vulndb.SourceNone, Extra: []string{abs}, Refresh: vulndb.RefreshOff}
	}
	return vulndb.Config{Source: src, Refresh: vulndb.RefreshOff}
}

// oneShotCore builds the core for a command that decides and exits, and
// loads its vulnerability database.
func (f *sourceFlags) oneShotCore(ctx context.Context, app *App, logger *slog.Logger, now func() time.Time) (*core, *Config, error) {
	cfg, ge, err := f.resolve(ctx, app)
	if err != nil {
		return nil, nil, err
	}
	if cfg.VulnDB.Source == vulndb.SourceNone && len(cfg.VulnDB.Extra) == 0 {
		f.noVulns = true
	}
	c, err := newCore(ctx, cfg, ge, coreOptions{logger: logger, now: now, oneShot: true, noVulns: f.noVulns, stdout: app.Stderr})
	if err != nil {
		return nil, nil, &exitError{code: 2, err: err}
	}
	if err := c.loadVulns(ctx); err != nil {
		c.close()
		return nil, nil, &exitError{code: 2, err: err}
	}
	return c, cfg, nil
}

// v1DB returns a URL of the core's vulnerability database in the v1
// layout, for govulncheck: the configured URL itself, or a copy of the
// loaded snapshot written once under the cache directory.
func (c *core) v1DB(cfg *Config) (string, error) {
	if src := cfg.VulnDB.Source; strings.HasPrefix(src, "file://") || strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if len(cfg.VulnDB.Extra) == 0 {
			return src, nil
		}
	}
	snap := c.vulns.Current()
	if snap == nil {
		return "", vulndb.ErrNotLoaded
	}
	dir := filepath.Join(cfg.StorageDir, "vulndb-v1", safeName(snap.ID))
	if _, err := os.Stat(filepath.Join(dir, "index", "db.json")); err != nil {
		if err := snap.Build(dir); err != nil {
			return "", fmt.Errorf("writing the vulnerability database for govulncheck: %w", err)
		}
	}
	return "file://" + filepath.ToSlash(dir), nil
}

// safeName makes a snapshot ID usable as a directory name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		}
		return '_'
	}, s)
}
