package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/modgate/modgate/bot"
	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/vulndb"
)

// Config is modgate's configuration: defaults, overridden by a YAML file
// (--config or MODGATE_CONFIG), then by MODGATE_* variables, then by flags.
// Each flag --some-name has the variable MODGATE_SOME_NAME and the YAML key
// some_name.
type Config struct {
	// Listen is the address to serve on. Default "localhost:3000".
	Listen string `yaml:"listen"`
	// StorageDir is the disk cache directory. Default: "modgate" under the
	// user cache directory.
	StorageDir string `yaml:"storage_dir"`
	// Upstream is a GOPROXY-style list. Default: `go env GOPROXY`.
	Upstream string `yaml:"upstream"`
	// SumDB is a GOSUMDB value ("off", a name, "key" or "key url").
	// Default: `go env GOSUMDB`.
	SumDB string `yaml:"sumdb"`
	// NoSumDB lists GONOSUMDB-style patterns never checked against the
	// database. Default: `go env GONOSUMDB` (which includes GOPRIVATE).
	NoSumDB string `yaml:"nosumdb"`
	// Private lists GONOPROXY-style patterns of modules never requested
	// from Upstream. Default: `go env GONOPROXY` (which includes GOPRIVATE).
	Private string `yaml:"private"`
	// PrivateUpstream is the GOPROXY-style list used for Private modules.
	// Empty means private modules are served from the cache only.
	PrivateUpstream string `yaml:"private_upstream"`
	// PathPrefix serves the proxy under this URL path prefix. Default "".
	PathPrefix string `yaml:"path_prefix"`
	// ListTTL is how long lists and @latest answers are fresh. Default 1m.
	ListTTL time.Duration `yaml:"list_ttl"`
	// NotFoundTTL is how long not-found answers are remembered. Default 1m.
	NotFoundTTL time.Duration `yaml:"not_found_ttl"`
	// UpstreamTimeout bounds waiting for upstream headers and metadata.
	// Default 30s.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// UpstreamIdleTimeout aborts a download that stalls this long.
	// Default 60s.
	UpstreamIdleTimeout time.Duration `yaml:"upstream_idle_timeout"`
	// UpstreamConcurrency bounds concurrent requests per upstream and
	// class (metadata, zips). Default 32.
	UpstreamConcurrency int `yaml:"upstream_concurrency"`
	// ShutdownTimeout bounds the wait for in-flight requests on SIGTERM.
	// Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// LogFormat is "text" or "json". Default "text".
	LogFormat string `yaml:"log_format"`
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string `yaml:"log_level"`
	// AccessLog logs every request at info level. Default true.
	AccessLog bool `yaml:"access_log"`
	// Policy configures the policy engine and the built-in rules. The
	// zero value enforces the vulnerabilities and retracted rules and
	// warns about deprecated modules.
	Policy policy.Config `yaml:"policy"`
	// PolicyFile, if set, is a separate policy configuration file that
	// replaces Policy (handy to share one policy between serve and check).
	PolicyFile string `yaml:"policy_file"`
	// VulnDB configures the vulnerability database. The zero value loads
	// the golang.org/x/vulndb module through the upstream, hourly.
	VulnDB vulndb.Config `yaml:"vulndb"`
	// Bot configures `modgate bot`, which reads and validates it itself;
	// serve accepts the section so one file can configure both.
	Bot bot.Config `yaml:"bot"`
}

// goEnv holds the go command's settings that provide defaults.
type goEnv struct {
	GOPROXY, GOSUMDB, GONOSUMDB, GONOPROXY, GOPRIVATE, GOROOT string
}

// readGoEnv runs `go env -json`; without a go command it falls back to
// the process environment.
func readGoEnv(ctx context.Context, app *App) goEnv {
	var ge goEnv
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GONOPROXY", "GOPRIVATE", "GOROOT")
	cmd.Env = app.Env
	out, err := cmd.Output()
	if err == nil && json.Unmarshal(out, &ge) == nil {
		return ge
	}
	return goEnv{GOPROXY: app.Getenv("GOPROXY"), GOSUMDB: app.Getenv("GOSUMDB"), GONOSUMDB: app.Getenv("GONOSUMDB"),
		GONOPROXY: app.Getenv("GONOPROXY"), GOPRIVATE: app.Getenv("GOPRIVATE"), GOROOT: app.Getenv("GOROOT")}
}

// userCacheDir is os.UserCacheDir for app's environment (not the
// process's), so commands run in-process in tests stay hermetic.
func userCacheDir(app *App) string {
	if d := app.Getenv("XDG_CACHE_HOME"); d != "" && runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		return d
	}
	switch home := app.Getenv("HOME"); {
	case runtime.GOOS == "windows":
		if d := app.Getenv("LocalAppData"); d != "" {
			return d
		}
	case home == "":
	case runtime.GOOS == "darwin":
		return filepath.Join(home, "Library", "Caches")
	default:
		return filepath.Join(home, ".cache")
	}
	return os.TempDir()
}

func defaultConfig(app *App, ge goEnv) Config {
	dir := userCacheDir(app)
	nosum := ge.GONOSUMDB
	if nosum == "" {
		nosum = ge.GOPRIVATE
	}
	private := ge.GONOPROXY
	if private == "" {
		private = ge.GOPRIVATE
	}
	return Config{
		Listen:              "localhost:3000",
		StorageDir:          filepath.Join(dir, "modgate"),
		Upstream:            ge.GOPROXY,
		SumDB:               ge.GOSUMDB,
		NoSumDB:             nosum,
		Private:             private,
		ListTTL:             time.Minute,
		NotFoundTTL:         time.Minute,
		UpstreamTimeout:     30 * time.Second,
		UpstreamIdleTimeout: 60 * time.Second,
		UpstreamConcurrency: 32,
		ShutdownTimeout:     30 * time.Second,
		LogFormat:           "text",
		LogLevel:            "info",
		AccessLog:           true,
	}
}

// loadConfigFile decodes a YAML file into cfg, rejecting unknown keys so
// typos are reported with their line.
func loadConfigFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	// Relative policy paths are relative to the config file.
	dir := filepath.Dir(path)
	for i, p := range cfg.Policy.Paths {
		if !filepath.IsAbs(p) {
			cfg.Policy.Paths[i] = filepath.Join(dir, p)
		}
	}
	if cfg.PolicyFile != "" && !filepath.IsAbs(cfg.PolicyFile) {
		cfg.PolicyFile = filepath.Join(dir, cfg.PolicyFile)
	}
	return nil
}

// configPath finds --config in args (before full parsing, since the file
// must load before flags override it) or MODGATE_CONFIG.
func configPath(app *App, args []string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "config="); ok {
			return v
		}
		if a == "config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return app.Getenv("MODGATE_CONFIG")
}

// bindServeFlags defines the serve flags on fs, bound to cfg.
func bindServeFlags(fs *flag.FlagSet, cfg *Config) {
	fs.String("config", "", "YAML configuration `file` (env MODGATE_CONFIG)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "`address` to listen on")
	fs.StringVar(&cfg.StorageDir, "storage-dir", cfg.StorageDir, "cache `directory`")
	fs.StringVar(&cfg.Upstream, "upstream", cfg.Upstream, "upstream `list` in GOPROXY syntax")
	fs.StringVar(&cfg.SumDB, "sumdb", cfg.SumDB, "checksum database in GOSUMDB syntax")
	fs.StringVar(&cfg.NoSumDB, "nosumdb", cfg.NoSumDB, "`patterns` never checked against the checksum database (GONOSUMDB syntax)")
	fs.StringVar(&cfg.Private, "private", cfg.Private, "`patterns` of private modules never sent upstream (GONOPROXY syntax)")
	fs.StringVar(&cfg.PrivateUpstream, "private-upstream", cfg.PrivateUpstream, "upstream `list` for private modules")
	fs.StringVar(&cfg.PathPrefix, "path-prefix", cfg.PathPrefix, "serve the proxy under this URL path `prefix`")
	fs.DurationVar(&cfg.ListTTL, "list-ttl", cfg.ListTTL, "how long lists and @latest stay fresh")
	fs.DurationVar(&cfg.NotFoundTTL, "not-found-ttl", cfg.NotFoundTTL, "how long not-found answers are remembered")
	fs.DurationVar(&cfg.UpstreamTimeout, "upstream-timeout", cfg.UpstreamTimeout, "upstream header and metadata timeout")
	fs.DurationVar(&cfg.UpstreamIdleTimeout, "upstream-idle-timeout", cfg.UpstreamIdleTimeout, "abort downloads that stall this long")
	fs.IntVar(&cfg.UpstreamConcurrency, "upstream-concurrency", cfg.UpstreamConcurrency, "concurrent requests per upstream and class")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "grace period for in-flight requests on shutdown")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format`: text or json")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn, error")
	fs.BoolVar(&cfg.AccessLog, "access-log", cfg.AccessLog, "log every request")
	fs.StringVar(&cfg.PolicyFile, "policy", cfg.PolicyFile, "policy configuration `file` (replaces the config's policy section)")
	fs.StringVar(&cfg.VulnDB.Source, "vulndb-source", cfg.VulnDB.Source, "vulnerability database: module, none, or an http(s):// or file:// URL")
	fs.StringVar(&cfg.Policy.DecisionLog.Path, "decision-log", cfg.Policy.DecisionLog.Path, "decision log `file` (- for stdout)")
}

// applyEnv sets each flag from MODGATE_<NAME> when that variable is set.
func applyEnv(app *App, fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "MODGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := app.Getenv(env); v != "" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageErrorf("%s=%q: %v", env, v, e)
			}
		}
	})
	return err
}

// Validate checks the configuration, naming the offending setting.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: must not be empty")
	}
	if c.StorageDir == "" {
		return errors.New("storage_dir: must not be empty")
	}
	if c.Upstream == "" {
		return errors.New("upstream: empty and `go env GOPROXY` gave nothing; set --upstream")
	}
	if _, err := upstream.ParseList(c.Upstream); err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	if c.PrivateUpstream != "" {
		if _, err := upstream.ParseList(c.PrivateUpstream); err != nil {
			return fmt.Errorf("private_upstream: %w", err)
		}
	}
	if c.PathPrefix != "" && (!strings.HasPrefix(c.PathPrefix, "/") || strings.HasSuffix(c.PathPrefix, "/")) {
		return fmt.Errorf("path_prefix: %q must start with / and not end with /", c.PathPrefix)
	}
	for name, d := range map[string]time.Duration{"list_ttl": c.ListTTL, "upstream_timeout": c.UpstreamTimeout,
		"upstream_idle_timeout": c.UpstreamIdleTimeout, "shutdown_timeout": c.ShutdownTimeout} {
		if d <= 0 {
			return fmt.Errorf("%s: must be positive, got %v", name, d)
		}
	}
	if c.UpstreamConcurrency <= 0 {
		return fmt.Errorf("upstream_concurrency: must be positive, got %d", c.UpstreamConcurrency)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log_format: %q is not text or json", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("log_level: %w", err)
	}
	if c.PolicyFile != "" {
		pc, err := policy.LoadConfig(c.PolicyFile)
		if err != nil {
			return fmt.Errorf("policy_file: %w", err)
		}
		dl := c.Policy.DecisionLog
		c.Policy = *pc
		if c.Policy.DecisionLog.Path == "" {
			c.Policy.DecisionLog = dl
		}
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	if err := c.VulnDB.Validate(); err != nil {
		return fmt.Errorf("vulndb: %w", err)
	}
	return nil
}

func parseSumDB(c *Config, goroot string) (*checksum.DB, error) {
	db, err := checksum.ParseGOSUMDB(c.SumDB, func(name string) string { return checksum.ToolchainKey(goroot, name) })
	if err != nil {
		return nil, fmt.Errorf("sumdb: %w", err)
	}
	return db, nil
}
