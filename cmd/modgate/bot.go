package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	config   string
	schedule string
	timezone string
	once     bool
	dryRun   bool
	repos    repoList
	org      string
	modgate  string
	jsonLog  bool
	verbose  bool
}

// runBot runs the update bot: one pass (--once, for a CI cron job) or a
// long-lived service on a cron schedule (--schedule or bot.schedule).
func runBot(ctx context.Context, app *App, args []string) error {
	var f botFlags
	fs := newFlagSet(app, "bot", "[--config FILE] (--once | --schedule SPEC) [--dry-run]")
	fs.StringVar(&f.config, "config", app.Getenv("MODGATE_CONFIG"), "YAML file with a `bot:` section (or a bare bot config); default $MODGATE_CONFIG")
	fs.StringVar(&f.schedule, "schedule", "", "cron spec (5 fields or @every/@daily...) to run as a service; overrides bot.schedule")
	fs.StringVar(&f.timezone, "timezone", "", "IANA time zone of the schedule; overrides bot.timezone (default UTC)")
	fs.BoolVar(&f.once, "once", false, "run one pass and exit (exit status 1 if a repository failed)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the pull requests and dashboards that would be written, and write nothing")
	fs.Var(&f.repos, "repo", "owner/name to process instead of the configured repositories (repeatable)")
	fs.StringVar(&f.org, "org", "", "process every repository of this organisation (overrides bot.organization.name)")
	fs.StringVar(&f.modgate, "modgate", "", "modgate base URL (overrides bot.modgate.url)")
	fs.BoolVar(&f.jsonLog, "json-log", false, "log as JSON")
	fs.BoolVar(&f.verbose, "v", false, "log progress at debug level")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
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
	// Every problem of the file and of the result at once, located.
	if err := locateExcept(cfg.Locate, errors.Join(fileErr, cfg.Validate()), under(set)); err != nil {
		return usageConfigError(err)
	}
	if err := checkBotFlags(f, cfg); err != nil {
		return err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	b, err := bot.New(cfg, app.Getenv, app.Env)
	if err != nil {
		return usageErrorf("%v", err)
	}
	b.Logger = app.Logger(f.jsonLog, level)
	b.Out = app.Stdout
	b.DryRun = f.dryRun
	if !f.once {
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

// isConfigProblem reports whether err is about the contents of a
// configuration file (located problems, with the rest of the file
// decoded), not a failure to read or parse it.
func isConfigProblem(err error) bool {
	_, ok := yamlconf.Split(err)[0].(*yamlconf.Error)
	return ok
}

// checkBotFlags validates flag combinations.
func checkBotFlags(f botFlags, cfg bot.Config) error {
	switch {
	case f.once && f.schedule != "":
		return usageErrorf("--once and --schedule are mutually exclusive")
	case !f.once && cfg.Schedule == "":
		return usageErrorf("give --once (one pass) or a schedule (--schedule or bot.schedule)")
	}
	return nil
}
