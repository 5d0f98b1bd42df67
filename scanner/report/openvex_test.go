package report_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/report"
	"github.com/modgate/modgate/scanner/vex"
	"github.com/modgate/modgate/scanner/vex/vextest"
)

func TestWriteOpenVEX(t *testing.T) {
	started := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	vuln := func(kind check.Kind, file, mod, version, id string) *check.Finding {
		return &check.Finding{Kind: kind, Rule: id, Module: mod, Version: version, File: file, Aliases: []string{"CVE-" + id}, Fixed: "v1.0.1"}
	}
	r := &check.Report{
		Started: started,
		Modules: []*check.ModuleReport{{Path: "example.com/m", File: "go.mod"}, {Path: "example.com/m/tools", File: "tools/go.mod"}},
		Findings: []*check.Finding{
			{Kind: check.KindPolicyDeny, Rule: "policy/vulnerabilities", Module: "example.com/vulnlib", Version: "v1.0.0", File: "go.mod"},
			vuln(check.KindVulnImported, "go.mod", "example.com/vulnlib", "v1.0.0", "GO-1"),
			vuln(check.KindVulnCalled, "go.mod", "example.com/vulnlib", "v1.0.0", "GO-1"),
			vuln(check.KindVulnImported, "tools/go.mod", "example.com/vulnlib", "v1.0.0", "GO-1"),
			vuln(check.KindVulnRequired, "tools/go.mod", "example.com/other", "v0.1.0", "GO-2"),
			vuln(check.KindVulnCalled, "go.mod", "example.com/unversioned", "", "GO-3"),
		},
	}
	var b bytes.Buffer
	if err := report.WriteOpenVEX(&b, r, report.Info{ToolVersion: "v9.9.9"}); err != nil {
		t.Fatal(err)
	}
	vextest.Validate(t, vextest.Schema(t), b.Bytes())
	d, err := vex.Parse("report.vex.json", b.Bytes())
	if err != nil {
		t.Fatalf("Parse(WriteOpenVEX): %v\n%s", err, b.Bytes())
	}
	var got []string
	for _, s := range d.Statements {
		p := s.Products[0]
		got = append(got, strings.Join([]string{p.ID, p.Subcomponents[0].ID, s.Vulnerability.Name, string(s.Status), string(s.Justification)}, " "))
	}
	want := []string{
		"pkg:golang/example.com/m pkg:golang/example.com/vulnlib@v1.0.0 GO-1 affected ",
		"pkg:golang/example.com/m/tools pkg:golang/example.com/vulnlib@v1.0.0 GO-1 not_affected vulnerable_code_not_in_execute_path",
		"pkg:golang/example.com/m/tools pkg:golang/example.com/other@v0.1.0 GO-2 not_affected vulnerable_code_not_present",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d.Timestamp != "2024-03-04T05:06:07Z" || d.Tooling != "modgate check v9.9.9" || d.Author != vex.DefaultAuthor {
		t.Errorf("document = %s by %s with %s, want the report's start time", d.Timestamp, d.Author, d.Tooling)
	}
	if s := d.Statements[0]; s.ActionStatement != "Upgrade example.com/vulnlib to v1.0.1 or later." || len(s.Vulnerability.Aliases) != 1 {
		t.Errorf("affected statement = %+v", s)
	}
}
