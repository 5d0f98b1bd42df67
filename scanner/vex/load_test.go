package vex_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modgate/modgate/scanner/vex"
)

// doc renders a document with id, timestamp ts and the statements (JSON
// objects).
func doc(id, ts string, statements ...string) string {
	return fmt.Sprintf(`{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": %q,
  "author": "test",
  "timestamp": %q,
  "version": 1,
  "statements": [%s]
}`, id, ts, strings.Join(statements, ",\n"))
}

// stmt renders a statement about vuln for product purls, with extra
// JSON members (status etc.).
func stmt(vuln string, products []string, extra string) string {
	var ps []string
	for _, p := range products {
		if strings.HasPrefix(p, "{") {
			ps = append(ps, p)
		} else {
			ps = append(ps, fmt.Sprintf(`{"@id": %q}`, p))
		}
	}
	return fmt.Sprintf(`{"vulnerability": {"name": %q}, "products": [%s], %s}`, vuln, strings.Join(ps, ", "), extra)
}

const (
	vulnlib     = "pkg:golang/example.com/vulnlib@v1.0.0"
	notAffected = `"status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"`
	affected    = `"status": "affected", "action_statement": "upgrade"`
)

// writeTree writes files (slash-separated names) under a temporary
// directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadErrors(t *testing.T) {
	ok := doc("urn:ok", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, notAffected))
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // every one must appear, file-qualified
	}{
		{"unknown status", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z",
			stmt("GO-1", []string{vulnlib}, notAffected), stmt("GO-2", []string{vulnlib}, `"status": "maybe"`))},
			[]string{`a.json: statements[1]: unknown status "maybe"`}},
		{"unknown justification", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z",
			stmt("GO-1", []string{vulnlib}, `"status": "not_affected", "justification": "trust_me"`))},
			[]string{`a.json: statements[0]: unknown justification "trust_me"`}},
		{"not_affected without reason", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z",
			stmt("GO-1", []string{vulnlib}, `"status": "not_affected"`))},
			[]string{"a.json: statements[0]: not_affected needs a justification or an impact_statement"}},
		{"missing vulnerability name", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z",
			stmt("", []string{vulnlib}, notAffected))},
			[]string{"a.json: statements[0]: vulnerability name is missing"}},
		{"document timestamp", map[string]string{"a.json": doc("urn:a", "yesterday", stmt("GO-1", []string{vulnlib}, notAffected))},
			[]string{`a.json: timestamp "yesterday" is not an RFC 3339 time`}},
		{"statement timestamp", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z",
			stmt("GO-1", []string{vulnlib}, notAffected+`, "timestamp": "2024-13-01T00:00:00Z"`))},
			[]string{`a.json: statements[0]: timestamp "2024-13-01T00:00:00Z" is not an RFC 3339 time`}},
		{"no products", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z", stmt("GO-1", nil, notAffected))},
			[]string{"a.json: statements[0]: no products"}},
		{"bad Go purl", map[string]string{"a.json": doc("urn:a", "2024-01-01T00:00:00Z",
			stmt("GO-1", []string{`{"@id": "pkg:golang/example.com/app", "subcomponents": [{"@id": "pkg:golang/example.com/m%ZZ@v1.0.0"}]}`}, notAffected))},
			[]string{`a.json: statements[0].products[0].subcomponents[0]: purl "pkg:golang/example.com/m%ZZ@v1.0.0"`}},
		{"not OpenVEX", map[string]string{"a.json": `{"name": "package.json"}`},
			[]string{"a.json: @context is missing", "a.json: @id is missing", "a.json: author is missing", "a.json: version 0"}},
		{"other version", map[string]string{"a.json": strings.Replace(ok, "v0.2.0", "v0.0.1", 1)},
			[]string{`a.json: @context "https://openvex.dev/ns/v0.0.1": want "https://openvex.dev/ns/v0.2.0"`}},
		{"syntax", map[string]string{"a.json": "{\n  \"@id\": \"x\",\n  oops\n}"}, []string{"a.json: line 3:3: invalid character 'o'"}},
		{"type", map[string]string{"a.json": strings.Replace(ok, `"version": 1`, `"version": "1"`, 1)},
			[]string{"a.json: version: json: cannot unmarshal string"}},
		{"trailing data", map[string]string{"a.json": ok + "{}"}, []string{"a.json: data after the JSON document"}},
		{"every file reported", map[string]string{"ok.json": ok,
			"a.vex.json": doc("urn:a", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, `"status": "x"`)),
			"sub/b.json": doc("urn:b", "", stmt("GO-1", []string{vulnlib}, notAffected))},
			[]string{`a.vex.json: statements[0]: unknown status "x"`, "b.json: timestamp is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, tc.files)
			ix, err := vex.Load(dir)
			if err == nil {
				t.Fatalf("Load = %d statements, want errors %q", ix.Len(), tc.want)
			}
			var ve *vex.Error
			if !errors.As(err, &ve) || !strings.HasPrefix(ve.File, dir) {
				t.Errorf("Load error %v is not a *vex.Error naming a file under %s", err, dir)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			msg = strings.ReplaceAll(msg, string(filepath.Separator), "/")
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Load error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLoadPaths(t *testing.T) {
	st := func(v string) string {
		return doc("urn:"+v, "2024-01-01T00:00:00Z", stmt(v, []string{vulnlib}, notAffected))
	}
	dir := writeTree(t, map[string]string{
		"a.json":             st("GO-A"),
		"deep/er/b.vex.json": st("GO-B"),
		"notes.txt":          "not JSON",
		".git/c.json":        "{ broken",
		"single/d.openvex":   st("GO-D"),
	})
	ix, err := vex.Load(dir, filepath.Join(dir, "a.json"), filepath.Join(dir, "single", "d.openvex"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, s := range ix.Statements("example.com/vulnlib", "v1.0.0") {
		got = append(got, s.Vulnerability+" "+filepath.ToSlash(strings.TrimPrefix(s.Source.File, dir)))
	}
	want := "GO-A /a.json, GO-B /deep/er/b.vex.json, GO-D /single/d.openvex"
	if strings.Join(got, ", ") != want || ix.Len() != 3 {
		t.Errorf("Statements = %v (Len %d), want %s (each file once)", got, ix.Len(), want)
	}
	if _, err := vex.Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want not exist", err)
	}
	if ix, err := vex.Load(); err != nil || ix.Len() != 0 || ix.Statements("example.com/vulnlib", "v1.0.0") != nil {
		t.Errorf("Load() = %v, %v; want an empty index", ix, err)
	}
}

func TestCheckDocument(t *testing.T) {
	d := &vex.Document{Context: vex.Context, ID: "urn:x", Author: "a", Timestamp: "2024-01-01T00:00:00Z", Version: 1,
		Statements: []vex.DocumentStatement{{Vulnerability: vex.Vulnerability{Name: "GO-1"}, Status: vex.StatusUnderInvestigation,
			Products: []vex.Product{{Component: vex.Component{Identifiers: map[string]string{"cpe23": "cpe:2.3:a:x:y:1:*:*:*:*:*:*:*"}}}}}}}
	if err := vex.CheckDocument(d); err != nil {
		t.Errorf("CheckDocument(valid) = %v", err)
	}
	d.Statements[0].Status = vex.StatusNotAffected
	d.Statements[0].ImpactStatement = "the code is never built for this platform"
	if err := vex.CheckDocument(d); err != nil {
		t.Errorf("CheckDocument(not_affected with an impact statement) = %v", err)
	}
	d.Statements[0].ImpactStatement = ""
	d.Version = 0
	err := vex.CheckDocument(d)
	if err == nil || !strings.Contains(err.Error(), "version 0") || !strings.Contains(err.Error(), "statements[0]: not_affected needs") {
		t.Errorf("CheckDocument(two problems) = %v, want both", err)
	}
}
