package proxy

import (
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// Retracted reports whether version v falls in one of the retract ranges
// (inclusive at both ends, as the go command reads them) and returns that
// directive's rationale.
func Retracted(retract []*modfile.Retract, v string) (bool, string) {
	for _, r := range retract {
		if semver.Compare(r.Low, v) <= 0 && semver.Compare(v, r.High) <= 0 {
			return true, r.Rationale
		}
	}
	return false, ""
}

// Retractions parses the retract directives of a go.mod file (the go
// command takes them from a module's latest version) and returns a
// predicate for retracted versions. An unparsable file retracts nothing.
func Retractions(gomod []byte) func(version string) bool {
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil || len(f.Retract) == 0 {
		return func(string) bool { return false }
	}
	return func(v string) bool {
		r, _ := Retracted(f.Retract, v)
		return r
	}
}
