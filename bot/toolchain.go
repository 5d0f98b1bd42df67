package bot

import (
	"context"
	"fmt"
	"go/version"
	"runtime"
	"slices"
	"strings"

	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

// toolchainVersion is one Go release as the golang.org/toolchain module
// lists it for a platform: v0.0.1-go1.22.3.linux-amd64.
type toolchainVersion struct {
	Go string // "go1.22.3"
	api.Version
}

// toolchainModuleVersion returns the golang.org/toolchain version of Go
// release goVersion ("go1.22.3") for platform ("linux-amd64").
func toolchainModuleVersion(goVersion, platform string) string {
	return "v0.0.1-" + goVersion + "." + platform
}

// parseToolchain splits a golang.org/toolchain version into the Go
// release and the platform.
func parseToolchain(v string) (goVersion, platform string, ok bool) {
	rest, ok := strings.CutPrefix(v, "v0.0.1-go")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", "", false
	}
	goVersion, platform = "go"+rest[:i], rest[i+1:]
	return goVersion, platform, version.IsValid(goVersion)
}

// stableRelease reports whether goVersion is a release (go1.22.3), not
// a release candidate or beta.
func stableRelease(goVersion string) bool {
	return version.IsValid(goVersion) && !strings.ContainsAny(strings.TrimPrefix(goVersion, "go"), "abcdefghijklmnopqrstuvwxyz")
}

// goSemver turns "go1.22.3" or "1.22" into "v1.22.3" or "v1.22.0", for
// update types and ignore rules.
func goSemver(v string) string {
	v = strings.TrimPrefix(v, "go")
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return "v" + v
}

func (b *Bot) platform() string {
	if b.Platform != "" {
		return b.Platform
	}
	return runtime.GOOS + "-" + runtime.GOARCH
}

// planToolchain proposes the newest Go release modgate allows for the
// toolchain directives (the golang.org/toolchain module of the bot's
// platform, decided by the policy like any module), and with
// go_directive the matching go directive. A toolchain newer than the go
// command running the bot is verified with that toolchain when
// GOTOOLCHAIN allows the go command to download it (through modgate).
func (b *Bot) planToolchain(ctx context.Context, f *findings, r *gomod.Repo, rc *RepoConfig, closed map[string]int) error {
	wantTC, wantGo := boolOr(rc.Toolchain, false), boolOr(rc.GoDirective, false)
	if !wantTC && !wantGo {
		return nil
	}
	curTC, curGo := "", ""
	for _, m := range r.Modules {
		g := "1.0"
		if m.File.Go != nil {
			g = m.File.Go.Version
		}
		tc := "go" + g
		if m.File.Toolchain != nil {
			tc = m.File.Toolchain.Name
		}
		if curTC == "" || version.Compare(tc, curTC) < 0 {
			curTC = tc
		}
		if curGo == "" || version.Compare("go"+g, "go"+curGo) < 0 {
			curGo = g
		}
	}
	plat := b.platform()
	m, err := b.gate().Module(ctx, gomod.ToolchainPath, "", "")
	if err != nil {
		return fmt.Errorf("toolchain versions: %w", err)
	}
	var rel []toolchainVersion // newest first
	for _, v := range m.Versions {
		gv, p, ok := parseToolchain(v.Version)
		if ok && p == plat && stableRelease(gv) && !v.Retracted {
			rel = append(rel, toolchainVersion{Go: gv, Version: v})
		}
	}
	slices.SortFunc(rel, func(a, b toolchainVersion) int { return version.Compare(b.Go, a.Go) })
	if len(rel) == 0 {
		f.Notes = append(f.Notes, fmt.Sprintf("modgate lists no Go release of %s for %s; toolchain not updated", gomod.ToolchainPath, plat))
		return nil
	}

	// The current toolchain's vulnerabilities, if modgate reports any.
	var oldIDs []string
	oldVuln := false
	curMV := api.ModuleVersion{Path: gomod.ToolchainPath, Version: toolchainModuleVersion(curTC, plat)}
	if ds, err := b.gate().Decide(ctx, "", []api.ModuleVersion{curMV}); err != nil {
		return err
	} else if len(ds) == 1 {
		oldIDs, oldVuln = vulnIDs(ds[0])
	}

	var pick *toolchainVersion
	for i, v := range rel {
		newer := version.Compare(v.Go, curTC) > 0
		if !newer && !wantGo {
			break
		}
		typ := updateType(goSemver(curTC), gomod.ToolchainPath, gomod.ToolchainPath, goSemver(v.Go))
		switch {
		case closed[gomod.ToolchainPath+"@"+v.Go] != 0:
			n := closed[gomod.ToolchainPath+"@"+v.Go]
			f.Ignored = append(f.Ignored, ignoredVersion{Path: gomod.ToolchainPath, Version: v.Go, PR: n, Reason: fmt.Sprintf("pull request #%d was closed without merging", n)})
			continue
		case rc.ignored(gomod.ToolchainPath, goSemver(v.Go), typ) != nil:
			f.Ignored = append(f.Ignored, ignoredVersion{Path: gomod.ToolchainPath, Version: v.Go, Reason: "ignored by " + RepoConfigPath})
			continue
		case !v.Decision.Allowed:
			if newer {
				f.Refused = append(f.Refused, refusal{Path: gomod.ToolchainPath, Version: v.Go, From: curTC, Why: whyPolicy, Reason: reason(v.Decision)})
			}
			continue
		}
		pick = &rel[i]
		break
	}
	if pick == nil {
		return nil
	}
	var dirs []string
	for _, m := range r.Modules {
		dirs = append(dirs, m.Dir)
	}
	fixed, remain := fixes(oldIDs, oldVuln, pick.Version)
	if wantTC && version.Compare(pick.Go, curTC) > 0 {
		f.Candidates = append(f.Candidates, candidate{
			Update: gomod.Update{Path: gomod.ToolchainPath, From: curTC, NewPath: gomod.ToolchainPath, To: pick.Go, Kind: gomod.KindToolchain},
			Type:   updateType(goSemver(curTC), gomod.ToolchainPath, gomod.ToolchainPath, goSemver(pick.Go)),
			Time:   pick.Time, Fixes: fixed, Unfixed: remain, Warn: pick.Decision.Warn, Dirs: dirs,
		})
	}
	if wantGo {
		lang := version.Lang(pick.Go) // "go1.22"
		target := strings.TrimPrefix(lang, "go")
		if strings.Count(curGo, ".") >= 2 {
			target += ".0"
		}
		if version.Compare("go"+target, "go"+curGo) > 0 && closed["go@"+target] == 0 {
			need := lang + ".0"
			// Without a toolchain line the go command needs the release the
			// go line names: it must be one the policy allows.
			if !(wantTC && version.Compare(pick.Go, curTC) > 0) && version.Compare(curTC, need) < 0 && !slices.ContainsFunc(rel, func(v toolchainVersion) bool { return v.Go == need && v.Decision.Allowed }) {
				f.Refused = append(f.Refused, refusal{Path: "go", Version: target, From: curGo, Why: whyPolicy,
					Reason: fmt.Sprintf("the go directive %s needs toolchain %s, which modgate does not allow; enable toolchain updates to pin an allowed release", target, need)})
				return nil
			}
			f.Candidates = append(f.Candidates, candidate{
				Update: gomod.Update{Path: "go", From: curGo, NewPath: "go", To: target, Kind: gomod.KindGo},
				Type:   updateType(goSemver(curGo), "go", "go", goSemver(target)),
				Time:   pick.Time, Dirs: dirs,
			})
		}
	}
	return nil
}
