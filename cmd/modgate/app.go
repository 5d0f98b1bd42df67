package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// App is what every subcommand receives: its I/O and environment, passed
// in rather than read from globals so commands run in-process in tests.
type App struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Env is the process environment as KEY=VALUE pairs.
	Env []string
	// Now is the clock; nil means time.Now. Tests set it so that
	// cooldowns and waivers can be decided at a chosen instant.
	Now func() time.Time
}

// now reads the clock.
func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Getenv returns the value of key in a.Env ("" when unset).
func (a *App) Getenv(key string) string {
	for i := len(a.Env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(a.Env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Logger returns a text or JSON slog logger on a.Stderr.
func (a *App) Logger(json bool, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(a.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(a.Stderr, opts))
}

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// usageErrorf returns an error that exits with status 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// exitCode returns an error that exits with code without printing anything
// more (the command already reported).
func exitCode(code int) error { return &exitError{code: code} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, app *App, args []string) error
}

func commands() []command {
	cs := []command{
		{"serve", "run the policy-enforcing module proxy", runServe},
		{"version", "print the modgate version", runVersion},
		{"cache", "inspect and verify the module cache", runCache},
		{"vulndb", "build and inspect the vulnerability database", runVulnDB},
		{"policy", "test, evaluate and check policies", runPolicy},
		{"check", "check a repository's dependencies in CI", runCheck},
		{"graph", "render the module dependency graph", runGraph},
		{"bot", "open policy-aware update pull requests", runBot},
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	return cs
}

// Run runs modgate with args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) int {
	return (&App{Stdin: stdin, Stdout: stdout, Stderr: stderr, Env: env}).Run(ctx, args)
}

// Run runs the command args in app and returns the process exit code.
func (app *App) Run(ctx context.Context, args []string) int {
	stderr := app.Stderr
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, app, args[1:])
		if err == nil {
			return 0
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(stderr, "modgate %s: %v\n", c.name, ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "modgate %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "modgate: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "modgate is a dependency governance service for Go.\n\nUsage:\n\n\tmodgate <command> [flags]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'modgate <command> --help' for a command's flags.\n")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints usage to app.Stderr.
func newFlagSet(app *App, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("modgate "+name, flag.ContinueOnError)
	fs.SetOutput(app.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(app.Stderr, "Usage: modgate %s %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a parse error into a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2} // flag already printed the error and usage
	}
	return nil
}

// parseDirArgs applies MODGATE_* variables and args to fs, validates the
// flags, and returns the optional single directory argument (default ".").
func parseDirArgs(app *App, fs *flag.FlagSet, args []string, validate func() error) (string, error) {
	if err := applyEnv(app, fs); err != nil {
		return "", err
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 1 {
		return "", usageErrorf("at most one directory, got %q", fs.Args())
	}
	if err := validate(); err != nil {
		return "", usageErrorf("%v", err)
	}
	if fs.NArg() == 1 {
		return fs.Arg(0), nil
	}
	return ".", nil
}
