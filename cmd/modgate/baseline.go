package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/modcache"
)

// runPolicyBaseline implements `modgate policy baseline`: it decides every
// module version a set of go.sum files (or the cache) already uses and
// prints a waiver file for those the policy denies today, so that a team
// can switch enforcement on without breaking the builds it has, while
// anything new is gated. The waivers name the rules (and vulnerability
// IDs) that deny each version: what is found later still denies.
func runPolicyBaseline(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "policy baseline", "[flags] PATH...")
	var src sourceFlags
	src.register(fs)
	owner := fs.String("owner", "", "`name` accountable for the waivers (default $USER)")
	expires := fs.String("expires", "90d", "when the waivers expire: a `date` (2006-01-02) or a duration from now (90d, 12w, 2160h)")
	fromCache := fs.Bool("cache", false, "also baseline every module version in modgate's cache (the configuration's storage_dir)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 && !*fromCache {
		fs.Usage()
		return usageErrorf("want go.sum files or directories holding them, or --cache")
	}
	if err := src.validate(); err != nil {
		return usageErrorf("%v", err)
	}
	now := app.now()
	until, err := expiryDate(*expires, now)
	if err != nil {
		return usageErrorf("--expires: %v", err)
	}
	who := cmp.Or(*owner, app.Getenv("USER"))
	if who == "" {
		return usageErrorf("--owner is required (waivers name who is accountable)")
	}
	mvs, files, err := goSumVersions(fs.Args())
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	c, _, err := src.oneShotCore(ctx, app, app.Logger(false, slog.LevelWarn), app.now)
	if err != nil {
		return err
	}
	defer c.close()
	if *fromCache {
		if mvs, err = cachedVersions(ctx, c.cache, mvs); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	ds, err := decideAll(ctx, c.decider, mvs)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	b := baseline{owner: who, expires: until, reason: "baseline " + now.UTC().Format(time.DateOnly)}
	for i, d := range ds {
		b.add(mvs[i], d)
	}
	source := fmt.Sprintf("%d go.sum files", len(files))
	if *fromCache {
		source += " and the cache"
	}
	return b.write(app.Stdout, now, source, len(mvs))
}

// expiryDate reads --expires: a date, or a duration from now.
func expiryDate(s string, now time.Time) (string, error) {
	if _, err := time.Parse(time.DateOnly, s); err == nil {
		return s, nil
	}
	d, err := policy.ParseDuration(s)
	if err != nil {
		return "", err
	}
	return now.Add(time.Duration(d)).UTC().Format(time.DateOnly), nil
}

// goSumVersions reads the module versions whose zips the go.sum files at
// paths (files, directories searched for go.sum, or globs) record,
// sorted and without duplicates; .../go.mod lines are skipped, as only
// zips are ever denied.
func goSumVersions(paths []string) ([]module.Version, []string, error) {
	var files []string
	for _, p := range paths {
		fs, err := goSumFiles(p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, fs...)
	}
	seen := map[module.Version]bool{}
	for _, f := range files {
		if err := readGoSum(f, seen); err != nil {
			return nil, nil, err
		}
	}
	mvs := make([]module.Version, 0, len(seen))
	for mv := range seen {
		mvs = append(mvs, mv)
	}
	module.Sort(mvs)
	return mvs, files, nil
}

// goSumFiles expands one PATH argument.
func goSumFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	switch {
	case err == nil && st.IsDir():
		var out []string
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && (d.Name() == "vendor" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && d.Name() == "go.sum" {
				out = append(out, path)
			}
			return nil
		})
		if err == nil && len(out) == 0 {
			err = fmt.Errorf("%s: no go.sum file below it", p)
		}
		return out, err
	case err == nil:
		return []string{p}, nil
	}
	matches, gerr := filepath.Glob(p)
	if gerr != nil || len(matches) == 0 {
		return nil, fmt.Errorf("%s: no such file, directory or matching glob", p)
	}
	var out []string
	for _, m := range matches {
		fs, err := goSumFiles(m)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// readGoSum adds the zip versions of one go.sum file to seen.
func readGoSum(file string, seen map[module.Version]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return fmt.Errorf("%s:%d: malformed go.sum line", file, line)
		}
		if strings.HasSuffix(fields[1], "/go.mod") {
			continue
		}
		mv := module.Version{Path: fields[0], Version: fields[1]}
		if err := module.Check(mv.Path, mv.Version); err != nil {
			return fmt.Errorf("%s:%d: %v", file, line, err)
		}
		seen[mv] = true
	}
	return sc.Err()
}

// cachedVersions adds the cached module versions with a zip to mvs.
func cachedVersions(ctx context.Context, c *modcache.Cache, mvs []module.Version) ([]module.Version, error) {
	err := c.Walk(ctx, func(mod, version string, kinds []modcache.Kind) error {
		if slices.Contains(kinds, modcache.KindZip) {
			mvs = append(mvs, module.Version{Path: mod, Version: version})
		}
		return nil
	})
	module.Sort(mvs)
	return slices.Compact(mvs), err
}

// decideAll decides every version as a zip download, as a build would.
func decideAll(ctx context.Context, d proxy.Decider, mvs []module.Version) ([]proxy.Decision, error) {
	out := make([]proxy.Decision, len(mvs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, mv := range mvs {
		g.Go(func() error {
			var err error
			out[i], err = d.Decide(gctx, proxy.Query{Module: mv.Path, Version: mv.Version, Kind: proxy.KindZip, Client: proxy.Client{Name: "modgate policy baseline"}})
			if err != nil {
				return fmt.Errorf("%s@%s: %w", mv.Path, mv.Version, err)
			}
			return nil
		})
	}
	return out, g.Wait()
}

// baseline collects the waivers to write.
type baseline struct {
	owner, expires, reason string
	waivers                []policy.Waiver
	denied                 int
}

// add records the waivers denied version mv needs: one scoped to the
// vulnerability IDs that deny it, one for the other rules.
func (b *baseline) add(mv module.Version, d proxy.Decision) {
	if d.Allowed() {
		return
	}
	b.denied++
	w := policy.Waiver{Module: mv.Path, Versions: "= " + mv.Version, Reason: b.reason, Owner: b.owner, Expires: b.expires}
	var rules []string
	for _, v := range d.Deny {
		if v.Rule == "vulnerabilities" && len(v.IDs) > 0 {
			vw := w
			vw.Rules, vw.IDs = []string{"vulnerabilities"}, slices.Clone(v.IDs)
			b.waivers = append(b.waivers, vw)
			continue
		}
		if !slices.Contains(rules, v.Rule) {
			rules = append(rules, v.Rule)
		}
	}
	if len(rules) > 0 {
		w.Rules = rules
		b.waivers = append(b.waivers, w)
	}
}

// write prints the waiver file.
func (b *baseline) write(w io.Writer, now time.Time, source string, checked int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# modgate policy baseline, %s: waivers for the module versions already in use\n", now.UTC().Format(time.DateOnly))
	fmt.Fprintf(bw, "# that the policy denies today (%d of %d from %s), so that they keep\n", b.denied, checked, source)
	fmt.Fprintf(bw, "# building while new adoption is gated. Each waiver names the rules (and\n")
	fmt.Fprintf(bw, "# vulnerability IDs) that deny its version: what is found later still denies.\n")
	fmt.Fprintf(bw, "# Review, commit, and list this file under the policy's waiver_files.\n")
	if len(b.waivers) == 0 {
		fmt.Fprintf(bw, "waivers: []\n")
		return bw.Flush()
	}
	fmt.Fprintf(bw, "waivers:\n")
	for _, wv := range b.waivers {
		fmt.Fprintf(bw, "  - module: %s\n    versions: %s\n    rules: [%s]\n", wv.Module, strconv.Quote(wv.Versions), strings.Join(wv.Rules, ", "))
		if len(wv.IDs) > 0 {
			fmt.Fprintf(bw, "    ids: [%s]\n", strings.Join(wv.IDs, ", "))
		}
		fmt.Fprintf(bw, "    reason: %s\n    owner: %s\n    expires: %s\n", strconv.Quote(wv.Reason), strconv.Quote(wv.Owner), wv.Expires)
	}
	return bw.Flush()
}
