package proxy

import (
	"fmt"
	"slices"
	"strings"
)

// deniedBody explains a denial in at most maxErrorLines lines, in the
// order a developer reads them: what was denied, by which rules and why,
// the command to type next, then the waivers and exceptions that were
// considered (expired waivers, applied VEX statements).
func deniedBody(e *DeniedError) string {
	lines := []string{headline(e)}
	room := maxErrorLines - 1
	fixes := fixLines(e)
	notes := noteLines(e.Decision)
	// Keep at least one line for the way out and one for a note when
	// there are some; the rules get the rest.
	reserve := min(len(fixes), 2) + min(len(notes), 1)
	denies := e.Decision.Deny
	if limit := room - reserve; len(denies) > limit {
		shown := denies[:limit-1]
		lines = append(lines, ruleLines(shown)...)
		lines = append(lines, fmt.Sprintf("... and %d more rules deny it (see the decision log)", len(denies)-len(shown)))
	} else {
		lines = append(lines, ruleLines(denies)...)
	}
	for _, l := range append(fixes, notes...) {
		if len(lines) == maxErrorLines {
			break
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

func headline(e *DeniedError) string {
	if e.Kind == KindLatest {
		return fmt.Sprintf("%s@latest: no version is allowed by modgate policy; the go command would pick %s", e.Module, e.Version)
	}
	return fmt.Sprintf("%s@%s is denied by modgate policy", e.Module, e.Version)
}

func ruleLines(vs []Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Rule+": "+oneLine(v.Msg))
	}
	return out
}

// fixLines are the ways out: the copy-paste go get of the nearest allowed
// version, then the rules' own hints (those that only say "upgrade" are
// covered by the command).
func fixLines(e *DeniedError) []string {
	var out []string
	if s := e.Decision.Suggest; s != "" {
		// The nearest allowed version is the smallest change; fixing
		// several denied modules at once needs the newest ones, or one
		// fix's requirements would downgrade another.
		out = append(out, fmt.Sprintf("fix: go get %s@%s (the nearest allowed; with other modules denied too, go get %s@latest takes the newest allowed)", e.Module, s, e.Module))
	}
	for _, v := range e.Decision.Deny {
		if v.Fix == "" || e.Decision.Suggest != "" && strings.HasPrefix(v.Fix, "upgrade to ") {
			continue
		}
		l := "fix: " + oneLine(v.Fix)
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// noteLines report the warnings that explain the verdict: waivers that
// expired or applied, and exceptions (VEX statements) that were used.
func noteLines(d Decision) []string {
	var out []string
	for _, v := range d.Warn {
		if v.Rule == "waivers" || v.Rule == "exceptions" || strings.Contains(v.Msg, "(waived until ") {
			out = append(out, "note: "+oneLine(v.Msg))
		}
	}
	return out
}
