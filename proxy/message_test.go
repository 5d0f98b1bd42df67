package proxy

import (
	"strings"
	"testing"
)

func TestDeniedBody(t *testing.T) {
	vuln := Violation{Rule: "vulnerabilities", Msg: "golang.org/x/net@v0.51.0 is affected by GO-1, GO-2, GO-3 and 12 more; fixed in v0.62.0", Fix: "upgrade to v0.62.0 or later", IDs: []string{"GO-1"}}
	tests := []struct {
		name string
		err  DeniedError
		want []string // the lines, in order
	}{
		{"a vulnerability with a suggestion", DeniedError{Module: "golang.org/x/net", Version: "v0.51.0", Kind: KindZip,
			Decision: Decision{Deny: []Violation{vuln}, Suggest: "v0.62.0"}}, []string{
			"golang.org/x/net@v0.51.0 is denied by modgate policy",
			"vulnerabilities: " + vuln.Msg,
			"fix: go get golang.org/x/net@v0.62.0 (the nearest allowed; with other modules denied too, go get golang.org/x/net@latest takes the newest allowed)",
		}},
		{"no allowed version: the rule's own hint", DeniedError{Module: "example.com/b", Version: "v1.0.0", Kind: KindZip,
			Decision: Decision{Deny: []Violation{{Rule: "blocklist", Msg: "example.com/b is blocked", Fix: "use example.com/c"}}}}, []string{
			"example.com/b@v1.0.0 is denied by modgate policy",
			"blocklist: example.com/b is blocked",
			"fix: use example.com/c",
		}},
		{"an expired waiver is noted", DeniedError{Module: "example.com/m", Version: "v1.0.0", Kind: KindZip,
			Decision: Decision{Deny: []Violation{vuln}, Suggest: "v1.1.0", Warn: []Violation{{Rule: "waivers", Msg: "waiver for example.com/m expired on 2025-01-01"}, {Rule: "deprecated", Msg: "not a note"}}}}, []string{
			"example.com/m@v1.0.0 is denied by modgate policy",
			"vulnerabilities: " + vuln.Msg,
			"fix: go get example.com/m@v1.1.0 (the nearest allowed; with other modules denied too, go get example.com/m@latest takes the newest allowed)",
			"note: waiver for example.com/m expired on 2025-01-01",
		}},
		{"@latest names the go command's pick", DeniedError{Module: "example.com/m", Version: "v1.2.0", Kind: KindLatest,
			Decision: Decision{Deny: []Violation{{Rule: "cooldown", Msg: "example.com/m@v1.2.0 is too new"}}}}, []string{
			"example.com/m@latest: no version is allowed by modgate policy; the go command would pick v1.2.0",
			"cooldown: example.com/m@v1.2.0 is too new",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deniedBody(&tt.err); got != strings.Join(tt.want, "\n") {
				t.Errorf("deniedBody =\n%s\nwant\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDeniedBodyFitsEightLines: with many rules, the body stays within
// what the go command prints, keeping the way out and a note.
func TestDeniedBodyFitsEightLines(t *testing.T) {
	var deny []Violation
	for _, r := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		deny = append(deny, Violation{Rule: r, Msg: r + " says no"})
	}
	body := deniedBody(&DeniedError{Module: "example.com/m", Version: "v1.0.0", Kind: KindZip,
		Decision: Decision{Deny: deny, Suggest: "v1.1.0", Warn: []Violation{{Rule: "exceptions", Msg: "GO-1 does not affect it per VEX x.json"}}}})
	lines := strings.Split(body, "\n")
	if len(lines) > maxErrorLines {
		t.Fatalf("%d lines, want at most %d:\n%s", len(lines), maxErrorLines, body)
	}
	for _, want := range []string{"more rules deny it", "fix: go get example.com/m@v1.1.0", "note: GO-1 does not affect it"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}
