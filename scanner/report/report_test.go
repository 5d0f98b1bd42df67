package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/report"
)

func sampleReport() *check.Report {
	return &check.Report{
		Root: "/src/repo", Base: "/src/repo",
		Modules: []*check.ModuleReport{{Path: "example.com/m", File: "sub dir/go.mod", Checks: []check.CheckResult{{Name: "tidy", Status: check.StatusFail, Summary: "not | tidy"}}}},
		Findings: []*check.Finding{
			{Kind: check.KindUntidy, Severity: check.SeverityError, Rule: "modgate/untidy", File: "sub dir/go.mod", Line: 3,
				Message: "50% done, a:b, c\nsecond line", Detail: "```go\ncode\n```", Fix: "run `go mod tidy`"},
			{Kind: check.KindVulnRequired, Severity: check.SeverityNote, Rule: "GO-1", Module: "example.com/v", Version: "v1.0.0", File: "sub dir/go.mod", Line: 0,
				Message: "GO-1 <script>", Via: []string{"a", "b", "example.com/v"}},
		},
	}
}

func TestAnnotationsEscape(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteAnnotations(&b, sampleReport(), report.Info{}); err != nil {
		t.Fatal(err)
	}
	want := "::error file=sub dir/go.mod,line=3,title=modgate untidy::50%25 done, a:b, c%0Asecond line%0AFix: run `go mod tidy`\n" +
		"::notice file=sub dir/go.mod,line=1,title=modgate vuln-required GO-1::GO-1 <script>%0AVia: a → b → example.com/v\n"
	if b.String() != want {
		t.Errorf("annotations:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestOutputs(t *testing.T) {
	r := sampleReport()
	for _, tc := range []struct {
		in   report.Info
		want string
	}{
		{report.Info{}, "findings=2\nfailing=1\nerrors=1\nwarnings=0\nnotes=1\nresult=fail\nsarif-file=/tmp/x.sarif\n"},
		{report.Info{WarnOnly: true}, "result=warn\n"},
		{report.Info{FailOn: check.FailOn{Never: true}}, "failing=0\n"},
	} {
		var b bytes.Buffer
		if err := report.WriteOutputs(&b, r, tc.in, "/tmp/x.sarif"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("outputs %+v:\n%s\nwant %q", tc.in, b.String(), tc.want)
		}
	}
	if code := (report.Info{}).ExitCode(r); code != 1 {
		t.Errorf("ExitCode = %d", code)
	}
	if code := (report.Info{FailOn: check.FailOn{Kinds: []check.Kind{check.KindVulnCalled}}}).ExitCode(r); code != 0 {
		t.Errorf("ExitCode(fail-on vuln-called) = %d", code)
	}
}

func TestMarkdownEscapes(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteMarkdown(&b, sampleReport(), report.Info{}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"❌ not \\| tidy", // pipes escaped in cells
		"GO-1 &lt;script&gt;",
		"`sub dir/go.mod:1`",               // HTML escaped
		"50% done, a:b, c second line",     // newlines joined in cells
		"````diff\n```go\ncode\n```\n````", // longer fence around a fenced detail
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "```mermaid") {
		t.Errorf("Mermaid graph without a module graph")
	}
}

func TestSARIFPathsAndLines(t *testing.T) {
	var b bytes.Buffer
	if err := report.WriteSARIF(&b, sampleReport(), report.Info{ToolVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{`"uri": "sub%20dir/go.mod"`, `"startLine": 1`, `"uri": "file:///src/repo/"`, `"security-severity": "2.0"`} {
		if !strings.Contains(s, want) {
			t.Errorf("SARIF lacks %s:\n%s", want, s)
		}
	}
}
