package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/modgate/modgate/bot"
	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/limits"
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
	// Server holds the limits on each client: timeouts, request sizes,
	// concurrent requests per client address.
	Server limits.Config `yaml:"server"`
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

	// src is the file the configuration was read from, nil for none; its
	// problems, found at any time, are located in it (see [Config.Locate]).
	src *yamlconf.Doc
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
		Server:              limits.Defaults(),
		ShutdownTimeout:     30 * time.Second,
		LogFormat:           "text",
		LogLevel:            "info",
		AccessLog:           true,
	}
}

// loadConfig is the one way modgate reads its configuration: defaults
// from the go command's environment, then the YAML file at path ("" for
// none), then override (serve's MODGATE_* variables and flags; nil for
// none), then the policy_file if one is set. It validates the result and
// returns every problem at once, each located in the file it comes from
// ("modgate.yaml:7: policy.rule_modez: unknown field (did you mean
// "rule_modes"?)"), sorted by line. Serve's start-up (loadServeConfig) and
// `modgate policy check` call it, so they report a file alike; a reload of
// the configuration should too, through loadServeConfig.
//
// override returns which YAML fields it set, whose problems name their
// field but no line (the value is not in the file). An unreadable file and
// override's own errors are returned as they are, as *exitError.
func loadConfig(ctx context.Context, app *App, path string, override func(*Config) (set func(field string) bool, err error)) (*Config, goEnv, error) {
	ge := readGoEnv(ctx, app)
	cfg := defaultConfig(app, ge)
	var fileErr error
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, ge, &exitError{code: 2, err: fmt.Errorf("config: %w", err)}
		}
		if fileErr = readConfigFile(path, data, &cfg); cfg.src == nil {
			return nil, ge, fileErr // a syntax error: nothing was decoded
		}
	}
	set := func(string) bool { return false }
	if override != nil {
		var err error
		if set, err = override(&cfg); err != nil {
			return nil, ge, err
		}
	}
	if err := locateExcept(cfg.Locate, errors.Join(fileErr, cfg.loadPolicyFile(), cfg.Validate()), set); err != nil {
		return nil, ge, err
	}
	return &cfg, ge, nil
}

// locateExcept locates err's problems with locate, except the field errors
// of fields set(field) says a flag or variable set: no line of the file
// holds their value, so they name their field only, after the others.
func locateExcept(locate func(error) error, err error, set func(field string) bool) error {
	var inFile, fromFlags []error
	for _, e := range yamlconf.Split(err) {
		if fe, ok := e.(*yamlconf.FieldError); ok && set(fe.Field) {
			fromFlags = append(fromFlags, e)
		} else {
			inFile = append(inFile, e)
		}
	}
	return errors.Join(locate(errors.Join(inFile...)), errors.Join(fromFlags...))
}

// readConfigFile decodes data, the YAML file path, over cfg (which holds
// the defaults) and remembers the file in cfg.src, unless data does not
// parse. It reports every unknown key and type mismatch at once, decoding
// the other keys all the same. Relative paths in the file (policy.paths,
// policy_file) are made relative to its directory.
func readConfigFile(path string, data []byte, cfg *Config) error {
	doc, err := yamlconf.Decode(path, data, cfg)
	if doc == nil {
		return err
	}
	cfg.src = doc
	dir := filepath.Dir(path)
	cfg.Policy.ResolvePaths(dir)
	if cfg.PolicyFile != "" && !filepath.IsAbs(cfg.PolicyFile) {
		cfg.PolicyFile = filepath.Join(dir, cfg.PolicyFile)
	}
	return err
}

// loadPolicyFile replaces c.Policy with the policy configuration file
// c.PolicyFile names, if any, keeping a decision log set elsewhere
// (--decision-log) when that file sets none. Its problems are located in
// that file; if it cannot be read, the problem is policy_file's.
func (c *Config) loadPolicyFile() error {
	if c.PolicyFile == "" {
		return nil
	}
	dl := c.Policy.DecisionLog
	pc, err := policy.LoadConfig(c.PolicyFile)
	if err != nil {
		// The section the file replaces is not validated in its stead.
		c.Policy = policy.Config{DecisionLog: dl}
		if _, ok := yamlconf.Split(err)[0].(*yamlconf.Error); !ok {
			return yamlconf.Errorf("policy_file", "%w", err)
		}
		return err
	}
	c.Policy = *pc
	if c.Policy.DecisionLog.Path == "" {
		c.Policy.DecisionLog = dl
	}
	return nil
}

// Locate places the field errors in err, named from the top of the file
// as Validate names them, at their line in the file c was read from; see
// [yamlconf.Doc.Locate]. c without a file returns err unchanged.
func (c *Config) Locate(err error) error {
	return c.src.Locate(err)
}

// LocatePolicy is Locate for errors whose fields are relative to the
// policy configuration, such as the policy engine's: they are located in
// the policy_file when the policy came from one, else under policy: in
// c's file.
func (c *Config) LocatePolicy(err error) error {
	return c.Locate(yamlconf.Prefix("policy", c.Policy.Locate(err)))
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

// flagFields returns a test of whether a YAML field, or one below it, was
// set by one of fs's flags (from the command line or a MODGATE_*
// variable).
func flagFields(fs *flag.FlagSet) func(field string) bool {
	var set []string
	fs.Visit(func(f *flag.Flag) { set = append(set, flagField(f.Name)) })
	return under(set)
}

// under returns a test of whether a YAML field is one of fields or below
// one of them.
func under(fields []string) func(field string) bool {
	return func(field string) bool {
		for _, s := range fields {
			if field == s || strings.HasPrefix(field, s+".") || strings.HasPrefix(field, s+"[") {
				return true
			}
		}
		return false
	}
}

// flagField is the YAML field a serve flag sets: --some-name sets
// some_name, except for the flags named for their section.
func flagField(name string) string {
	switch name {
	case "policy":
		return "policy_file"
	case "vulndb-source":
		return "vulndb.source"
	case "decision-log":
		return "policy.decision_log"
	}
	return strings.ReplaceAll(name, "-", "_")
}

// Validate checks c and returns every problem, each a
// *yamlconf.FieldError naming its YAML field (listen, policy.cache.size,
// vulndb.refresh, ...), joined with errors.Join; nil when c is valid.
// Problems of a policy read from policy_file are already located in that
// file. Validate reads no files: loadConfig loads the policy_file.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, yamlconf.Errorf(field, format, args...))
	}
	if c.Listen == "" {
		bad("listen", "must not be empty")
	}
	if c.StorageDir == "" {
		bad("storage_dir", "must not be empty")
	}
	if c.Upstream == "" {
		bad("upstream", "empty and `go env GOPROXY` gave nothing; set --upstream")
	} else if _, err := upstream.ParseList(c.Upstream); err != nil {
		bad("upstream", "%w", err)
	}
	if c.PrivateUpstream != "" {
		if _, err := upstream.ParseList(c.PrivateUpstream); err != nil {
			bad("private_upstream", "%w", err)
		}
	}
	if c.PathPrefix != "" && (!strings.HasPrefix(c.PathPrefix, "/") || strings.HasSuffix(c.PathPrefix, "/")) {
		bad("path_prefix", "%q must start with / and not end with /", c.PathPrefix)
	}
	for _, d := range []struct {
		field string
		d     time.Duration
	}{{"list_ttl", c.ListTTL}, {"upstream_timeout", c.UpstreamTimeout}, {"upstream_idle_timeout", c.UpstreamIdleTimeout}, {"shutdown_timeout", c.ShutdownTimeout}} {
		if d.d <= 0 {
			bad(d.field, "must be positive, got %v", d.d)
		}
	}
	if c.UpstreamConcurrency <= 0 {
		bad("upstream_concurrency", "must be positive, got %d", c.UpstreamConcurrency)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", "%q is not text or json%s", c.LogFormat, yamlconf.DidYouMean(c.LogFormat, "text", "json"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("log_level", "%w", err)
	}
	errs = append(errs, yamlconf.Prefix("server", c.Server.Validate()),
		yamlconf.Prefix("policy", c.Policy.Locate(c.Policy.Validate())), c.VulnDB.Validate())
	return errors.Join(errs...)
}

func parseSumDB(c *Config, goroot string) (*checksum.DB, error) {
	db, err := checksum.ParseGOSUMDB(c.SumDB, func(name string) string { return checksum.ToolchainKey(goroot, name) })
	if err != nil {
		return nil, fmt.Errorf("sumdb: %w", err)
	}
	return db, nil
}
