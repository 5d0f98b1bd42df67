package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/modgate/modgate/bot"
	"github.com/modgate/modgate/internal/yamlconf"
)

// repoList is the repeatable --repo flag.
type repoList []string

func (s *repoList) String() string { return strings.Join(*s, ",") }
func (s *repoList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// botFlags are the bot command's flags.
type botFlags struct {
	config      string
	schedule    string
	timezone    string
	once        bool
	dryRun      bool
	repos       repoList
	org         string
	modgate     string
	local       string
	checkConfig bool
	jsonLog     bool
	verbose     bool
}

const botUsage = `[--config FILE] (--once | --schedule SPEC) [--dry-run] [--repo OWNER/NAME]...
       modgate bot --local DIR [--config FILE] [--modgate URL]
       modgate bot --check-config [--config FILE] [REPO-CONFIG-FILE...]`

// runBot runs the update bot: one pass (--once, for a CI cron job), a
// long-lived service on a cron schedule (--schedule or bot.schedule), a
// dry run against a local checkout (--local), or a configuration check
// (--check-config).
func runBot(ctx context.Context, app *App, args []string) error {
	var f botFlags
	fs := newFlagSet(app, "bot", botUsage)
	fs.StringVar(&f.config, "config", app.Getenv("MODGATE_CONFIG"), "YAML `FILE` with a bot: section (or a bare bot configuration); default $MODGATE_CONFIG")
	fs.StringVar(&f.schedule, "schedule", "", "cron `SPEC` (5 fields or @every/@daily...) to run as a service; overrides bot.schedule")
	fs.StringVar(&f.timezone, "timezone", "", "IANA time `ZONE` of the schedule; overrides bot.timezone (default UTC)")
	fs.BoolVar(&f.once, "once", false, "run one pass and exit (exit status 1 if a repository failed)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the pull requests (titles, bodies, diffs) and dashboards that would be written, and write nothing")
	fs.Var(&f.repos, "repo", "`OWNER/NAME` to process instead of the configured repositories (repeatable)")
	fs.StringVar(&f.org, "org", "", "process every repository of this organisation `NAME` (overrides bot.organization.name)")
	fs.StringVar(&f.modgate, "modgate", "", "modgate base `URL` (overrides bot.modgate.url)")
	fs.StringVar(&f.local, "local", "", "plan against the git checkout `DIR` (its HEAD commit) without a code host and print the plan, as --dry-run does; needs no token")
	fs.BoolVar(&f.checkConfig, "check-config", false, "check the configuration (and the .github/modgate.yaml files named as arguments), print the problems, and exit (2 when there are any)")
	fs.BoolVar(&f.jsonLog, "json-log", false, "log as JSON")
	fs.BoolVar(&f.verbose, "v", false, "log progress at debug level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkBotFlags(f, fs.NArg()); err != nil {
		return err
	}
	if f.checkConfig && f.config == "" && fs.NArg() == 0 {
		return usageErrorf("--check-config: nothing to check (give --config FILE or $MODGATE_CONFIG, or .github/modgate.yaml files)")
	}
	var cfg bot.Config
	var fileErr error
	if f.config != "" {
		if cfg, fileErr = bot.LoadConfigFile(f.config); fileErr != nil && !isConfigProblem(fileErr) {
			return fileErr
		}
	}
	var set []string // YAML fields the flags set
	if len(f.repos) > 0 {
		cfg.Repositories, cfg.Organization = f.repos, bot.OrgConfig{}
		set = append(set, "bot.repositories", "bot.organization")
	}
	if f.org != "" {
		cfg.Organization.Name = f.org
		set = append(set, "bot.organization.name")
	}
	if f.modgate != "" {
		cfg.Modgate.URL = f.modgate
		set = append(set, "bot.modgate.url")
	}
	if f.schedule != "" {
		cfg.Schedule = f.schedule
		set = append(set, "bot.schedule")
	}
	if f.timezone != "" {
		cfg.TimeZone = f.timezone
		set = append(set, "bot.timezone")
	}
	if f.local != "" {
		// The checkout is the one repository.
		cfg.Repositories, cfg.Organization = []string{"local/checkout"}, bot.OrgConfig{}
		set = append(set, "bot.repositories", "bot.organization")
	}
	if f.checkConfig {
		return checkBotConfig(app, f, fs.Args(), cfg, fileErr, set)
	}
	// Every problem of the file and of the result at once, located.
	if err := locateExcept(cfg.Locate, errors.Join(fileErr, cfg.Validate()), under(set)); err != nil {
		return usageConfigError(err)
	}
	if !f.once && f.local == "" && cfg.Schedule == "" {
		return usageErrorf("give --once (one pass) or a schedule (--schedule or bot.schedule)")
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	var b *bot.Bot
	var err error
	if f.local != "" {
		b, err = bot.NewLocal(cfg, f.local, app.Getenv, app.Env)
	} else {
		b, err = bot.New(cfg, app.Getenv, app.Env)
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	b.Logger = app.Logger(f.jsonLog, level)
	b.Out = app.Stdout
	b.DryRun = b.DryRun || f.dryRun
	if !f.once && f.local == "" {
		return b.Serve(ctx, cfg.Schedule, cfg.TimeZone)
	}
	rep, err := b.RunOnce(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for _, rr := range rep.Repos {
		if rr.Err != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d repositories failed", failed, len(rep.Repos))
	}
	return nil
}

// checkBotConfig reports every problem of the configuration and of the
// repository settings files at once; it prints one line per valid file.
func checkBotConfig(app *App, f botFlags, files []string, cfg bot.Config, fileErr error, set []string) error {
	var errs []error
	if f.config != "" || len(set) > 0 {
		if err := locateExcept(cfg.Locate, errors.Join(fileErr, cfg.Validate()), under(set)); err != nil {
			errs = append(errs, err)
		} else {
			name := f.config
			if name == "" {
				name = "flags"
			}
			fmt.Fprintf(app.Stdout, "%s: bot configuration OK\n", name)
		}
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := bot.ParseRepoConfigFile(name, data); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(app.Stdout, "%s: repository settings OK\n", name)
	}
	if len(errs) > 0 {
		return usageConfigError(errors.Join(errs...))
	}
	return nil
}

// isConfigProblem reports whether err is about the contents of a
// configuration file (located problems, with the rest of the file
// decoded), not a failure to read or parse it.
func isConfigProblem(err error) bool {
	_, ok := yamlconf.Split(err)[0].(*yamlconf.Error)
	return ok
}

// checkBotFlags validates flag combinations.
func checkBotFlags(f botFlags, nargs int) error {
	switch {
	case f.once && f.schedule != "":
		return usageErrorf("--once and --schedule are mutually exclusive")
	case f.local != "" && (f.schedule != "" || len(f.repos) > 0 || f.org != ""):
		return usageErrorf("--local plans one checkout once: it takes no --schedule, --repo or --org")
	case f.checkConfig && (f.once || f.dryRun || f.local != ""):
		return usageErrorf("--check-config only checks: it takes no --once, --dry-run or --local")
	case nargs > 0 && !f.checkConfig:
		return usageErrorf("unexpected arguments (only --check-config takes files)")
	}
	return nil
}
