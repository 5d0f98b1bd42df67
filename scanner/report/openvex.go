package report

import (
	"io"
	"time"

	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/vex"
)

// reachability maps the vulnerability kinds to how far govulncheck
// found them reaching.
var reachability = map[check.Kind]vex.Reachability{
	check.KindVulnCalled:   vex.Called,
	check.KindVulnImported: vex.Imported,
	check.KindVulnRequired: vex.Required,
}

// WriteOpenVEX writes an OpenVEX v0.2.0 document of the vulnerability
// findings (see package vex): for each checked main module (the
// product), one statement per vulnerable module version and
// vulnerability, the strongest reachability deciding: called is
// affected, imported not_affected (vulnerable_code_not_in_execute_path),
// required only not_affected (vulnerable_code_not_present). The
// timestamps are the report's start time. Modules whose vulnerabilities
// were not scanned have no statements.
func WriteOpenVEX(w io.Writer, r *check.Report, in Info) error {
	products := map[string]string{} // go.mod → main module path
	for _, m := range r.Modules {
		products[m.File] = m.Path
	}
	var facts []vex.Fact
	for _, f := range r.Findings {
		reach, ok := reachability[f.Kind]
		if !ok || f.Module == "" || f.Version == "" {
			continue
		}
		facts = append(facts, vex.Fact{Product: products[f.File], Module: f.Module, Version: f.Version,
			Vulnerability: f.Rule, Aliases: f.Aliases, Reachability: reach, Fixed: f.Fixed})
	}
	vw := &vex.Writer{Tooling: "modgate check"}
	if in.ToolVersion != "" {
		vw.Tooling += " " + in.ToolVersion
	}
	if !r.Started.IsZero() {
		vw.Now = func() time.Time { return r.Started }
	}
	return vw.Write(w, facts)
}
