package policy

import (
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// A Constraint is a parsed version constraint such as ">= v1.2.0, < v2" or
// "v1.4.1 || >= v1.6.0". Terms separated by "," must all hold; alternatives
// separated by "||" are OR-ed. Each term is an optional operator (=, !=, <,
// <=, >, >=; default =) and a Go version, with or without the leading "v";
// shorthand versions are completed ("v2" is v2.0.0). Build metadata such as
// +incompatible does not affect ordering, as in the go command. The empty
// constraint matches every version.
type Constraint struct {
	text string
	alts [][]constraintTerm
}

type constraintTerm struct {
	op string
	v  string // canonical Go version
}

// ParseConstraint parses s; see [Constraint].
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{text: strings.TrimSpace(s)}
	if c.text == "" {
		return c, nil
	}
	for _, alt := range strings.Split(c.text, "||") {
		var terms []constraintTerm
		for _, t := range strings.Split(alt, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				return Constraint{}, fmt.Errorf("constraint %q: empty term", s)
			}
			op := "="
			for _, o := range []string{"<=", ">=", "!=", "==", "<", ">", "="} {
				if strings.HasPrefix(t, o) {
					op, t = o, strings.TrimSpace(t[len(o):])
					break
				}
			}
			if op == "==" {
				op = "="
			}
			v := t
			if !strings.HasPrefix(v, "v") {
				v = "v" + v
			}
			if !semver.IsValid(v) {
				return Constraint{}, fmt.Errorf("constraint %q: invalid version %q", s, t)
			}
			terms = append(terms, constraintTerm{op: op, v: semver.Canonical(v)})
		}
		c.alts = append(c.alts, terms)
	}
	return c, nil
}

// String returns the constraint as written.
func (c Constraint) String() string { return c.text }

// Match reports whether the Go version v satisfies c. It mirrors
// lib.version_in in the Rego bundle, for Go callers and tests.
func (c Constraint) Match(v string) bool {
	if len(c.alts) == 0 {
		return true
	}
	for _, alt := range c.alts {
		ok := true
		for _, t := range alt {
			r := semver.Compare(v, t.v)
			switch t.op {
			case "=":
				ok = r == 0
			case "!=":
				ok = r != 0
			case "<":
				ok = r < 0
			case "<=":
				ok = r <= 0
			case ">":
				ok = r > 0
			case ">=":
				ok = r >= 0
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// regoValue returns the normalized form the Rego bundle reads: a list of
// alternatives, each a list of {"op", "v"} with v in SemVer 2.0 form.
func (c Constraint) regoValue() []any {
	alts := make([]any, 0, len(c.alts))
	for _, alt := range c.alts {
		terms := make([]any, 0, len(alt))
		for _, t := range alt {
			terms = append(terms, map[string]any{"op": t.op, "v": strings.TrimPrefix(t.v, "v")})
		}
		alts = append(alts, terms)
	}
	return alts
}
