package check

import (
	"fmt"
	"slices"
	"strings"
)

// Severity grades a finding.
type Severity int

// Severities, lowest first.
const (
	SeverityNote Severity = iota + 1
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityNote:
		return "note"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText renders s as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity parses "note", "warning" or "error".
func ParseSeverity(name string) (Severity, error) {
	for _, s := range []Severity{SeverityNote, SeverityWarning, SeverityError} {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want note, warning or error)", name)
}

// Kind says what a finding is about.
type Kind string

// Finding kinds. Reproducibility kinds come from the go command, policy
// kinds from the policy engine, vulnerability kinds from govulncheck.
const (
	KindUntidy       Kind = "untidy"        // go mod tidy -diff is not empty
	KindTidy         Kind = "tidy"          // go mod tidy could not run
	KindBuild        Kind = "build"         // go build -mod=readonly ./... failed
	KindVerify       Kind = "verify"        // go mod verify failed
	KindVendor       Kind = "vendor"        // vendor/ differs from go mod vendor
	KindLocalReplace Kind = "local-replace" // replace directive to a directory
	KindBuildList    Kind = "buildlist"     // the build list could not be loaded
	KindPolicyDeny   Kind = "policy-deny"   // the policy denies a module version
	KindPolicyWarn   Kind = "policy-warn"   // the policy warns about one
	KindPolicyAudit  Kind = "policy-audit"  // a deny downgraded by audit mode
	KindVulnCalled   Kind = "vuln-called"   // a vulnerable symbol is reachable
	KindVulnImported Kind = "vuln-imported" // a vulnerable package is imported
	KindVulnRequired Kind = "vuln-required" // a vulnerable module is only required
)

// Kinds lists every kind with its default severity, in report order.
var Kinds = []struct {
	Kind     Kind
	Severity Severity
	Group    string
	Title    string
}{
	{KindUntidy, SeverityError, "repro", "go.mod/go.sum are not tidy"},
	{KindTidy, SeverityError, "repro", "go mod tidy failed"},
	{KindBuild, SeverityError, "repro", "go build -mod=readonly failed"},
	{KindVerify, SeverityError, "repro", "go mod verify failed"},
	{KindVendor, SeverityError, "repro", "vendor directory is inconsistent"},
	{KindLocalReplace, SeverityError, "repro", "replace directive points to a local directory"},
	{KindBuildList, SeverityError, "repro", "build list could not be loaded"},
	{KindPolicyDeny, SeverityError, "policy", "module version denied by policy"},
	{KindPolicyWarn, SeverityWarning, "policy", "module version warned by policy"},
	{KindPolicyAudit, SeverityNote, "policy", "module version would be denied (audit mode)"},
	{KindVulnCalled, SeverityError, "vuln", "vulnerable symbol is called"},
	{KindVulnImported, SeverityWarning, "vuln", "vulnerable package is imported"},
	{KindVulnRequired, SeverityNote, "vuln", "vulnerable module is required"},
}

// DefaultSeverity returns k's severity.
func (k Kind) DefaultSeverity() Severity {
	for _, e := range Kinds {
		if e.Kind == k {
			return e.Severity
		}
	}
	return SeverityError
}

// Title returns k's one-line description.
func (k Kind) Title() string {
	for _, e := range Kinds {
		if e.Kind == k {
			return e.Title
		}
	}
	return string(k)
}

// Group returns "repro", "policy" or "vuln".
func (k Kind) Group() string {
	for _, e := range Kinds {
		if e.Kind == k {
			return e.Group
		}
	}
	return ""
}

// Finding is one problem found in a repository.
type Finding struct {
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	// Rule identifies what fired: "modgate/<kind>" for reproducibility
	// checks, "policy/<rule>" for policy rules, the OSV ID for
	// vulnerabilities.
	Rule string `json:"rule"`
	// Module and Version name the module version concerned ("" for
	// checks about the go.mod itself).
	Module  string `json:"module,omitempty"`
	Version string `json:"version,omitempty"`
	// File is the go.mod (or go.work) the finding is anchored at,
	// slash-separated and relative to the report's base directory; Line
	// is the 1-based line of the offending requirement (or of the module
	// line when there is none).
	File string `json:"file"`
	Line int    `json:"line"`
	// Message is the one-line summary.
	Message string `json:"message"`
	// Detail is longer text: a tidy diff, compiler output, a call trace.
	Detail string `json:"detail,omitempty"`
	// Fix is a hint (a fixed version, a replacement).
	Fix string `json:"fix,omitempty"`
	// Fixed is, for vulnerabilities, the first version of Module without
	// it; "" when none is known.
	Fixed string `json:"fixed,omitempty"`
	// Via is one shortest path of modules from the main module to Module.
	Via []string `json:"via,omitempty"`
	// Aliases are other identifiers (CVE, GHSA) for vulnerabilities.
	Aliases []string `json:"aliases,omitempty"`
	// URL points at documentation of the rule or vulnerability.
	URL string `json:"url,omitempty"`
}

// Subject returns "module@version", the module, or the file.
func (f *Finding) Subject() string {
	switch {
	case f.Module != "" && f.Version != "":
		return f.Module + "@" + f.Version
	case f.Module != "":
		return f.Module
	}
	return f.File
}

// FailOn decides which findings fail the check. The zero value fails on
// errors.
type FailOn struct {
	// MinSeverity fails on findings at or above it; 0 means "error" when
	// Kinds is empty too, and "never by severity" otherwise.
	MinSeverity Severity
	// Kinds fails on findings of these kinds whatever their severity.
	Kinds []Kind
	// Never disables failing ("none").
	Never bool
}

// ParseFailOn parses a comma-separated list of severities ("error",
// "warning", "note": that severity or above), kinds (e.g. "vuln-called"),
// groups ("repro", "policy", "vuln": all their kinds) or "none".
func ParseFailOn(s string) (FailOn, error) {
	var f FailOn
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		if tok == "none" {
			f.Never = true
			continue
		}
		if sev, err := ParseSeverity(tok); err == nil {
			if f.MinSeverity == 0 || sev < f.MinSeverity {
				f.MinSeverity = sev
			}
			continue
		}
		matched := false
		for _, k := range Kinds {
			if string(k.Kind) == tok || k.Group == tok {
				if !slices.Contains(f.Kinds, k.Kind) {
					f.Kinds = append(f.Kinds, k.Kind)
				}
				matched = true
			}
		}
		if !matched {
			return FailOn{}, fmt.Errorf("--fail-on: unknown severity, kind or group %q (severities: note, warning, error; groups: repro, policy, vuln; or none)", tok)
		}
	}
	if f.Never && (f.MinSeverity != 0 || len(f.Kinds) > 0) {
		return FailOn{}, fmt.Errorf("--fail-on: none cannot be combined with other values")
	}
	return f, nil
}

// String renders f as ParseFailOn accepts it.
func (f FailOn) String() string {
	if f.Never {
		return "none"
	}
	var parts []string
	if f.MinSeverity != 0 {
		parts = append(parts, f.MinSeverity.String())
	}
	for _, k := range f.Kinds {
		parts = append(parts, string(k))
	}
	if len(parts) == 0 {
		return "error"
	}
	return strings.Join(parts, ",")
}

// Fails reports whether finding fails the check.
func (f FailOn) Fails(fd *Finding) bool {
	if f.Never {
		return false
	}
	min := f.MinSeverity
	if min == 0 && len(f.Kinds) == 0 {
		min = SeverityError
	}
	if min != 0 && fd.Severity >= min {
		return true
	}
	return slices.Contains(f.Kinds, fd.Kind)
}
