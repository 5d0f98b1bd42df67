package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/modgate/modgate/policy/declog"
)

// reportFlags are the flags of `modgate policy report`.
type reportFlags struct {
	top    int
	since  string
	rules  stringList
	module string
	json   bool
}

// runPolicyReport summarizes the would-be denials in decision logs: what
// enforcing an audit-mode policy would break, by module, rule and client.
// It exits 0 whatever it finds.
func runPolicyReport(_ context.Context, app *App, args []string) error {
	var f reportFlags
	fs := newFlagSet(app, "policy report", "[flags] DECISION-LOG...")
	fs.IntVar(&f.top, "top", 20, "show the `n` rows with the most denials in each table (0: all)")
	fs.StringVar(&f.since, "since", "", "only records from this `time` on: a duration back from now (36h, 7d) or a date (2025-01-02, RFC 3339)")
	fs.Var(&f.rules, "rule", "only findings of this `rule` (repeatable, or comma-separated)")
	fs.StringVar(&f.module, "module", "", "only this `module` and the modules below it")
	fs.BoolVar(&f.json, "json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	filter, err := f.filter(time.Now())
	if err != nil {
		return usageErrorf("%v", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageErrorf("want at least one decision log file")
	}
	s := declog.NewSummarizer(filter)
	for _, file := range fs.Args() {
		if err := s.ReadFile(file); err != nil {
			return err
		}
	}
	rep := s.Report(f.top)
	for _, at := range rep.SkippedAt {
		fmt.Fprintf(app.Stderr, "warning: skipped %s\n", at)
	}
	if n := rep.Skipped - len(rep.SkippedAt); n > 0 {
		fmt.Fprintf(app.Stderr, "warning: skipped %d more lines\n", n)
	}
	if f.json {
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return declog.WriteText(app.Stdout, rep)
}

// filter validates the flags and returns the filter they describe.
func (f *reportFlags) filter(now time.Time) (declog.Filter, error) {
	var filter declog.Filter
	if f.top < 0 {
		return filter, fmt.Errorf("--top %d: must not be negative", f.top)
	}
	if f.since != "" {
		t, err := parseSince(f.since, now)
		if err != nil {
			return filter, err
		}
		filter.Since = t
	}
	for _, r := range f.rules {
		for name := range strings.SplitSeq(r, ",") {
			if name = strings.TrimSpace(name); name != "" {
				filter.Rules = append(filter.Rules, name)
			}
		}
	}
	filter.Module = strings.TrimSpace(f.module)
	return filter, nil
}

// parseSince parses --since: a duration back from now (a Go duration, or
// a whole number of days such as 7d), a date (UTC midnight) or an RFC
// 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (36h, 7d), a date (2025-01-02) or an RFC 3339 time", s)
}
