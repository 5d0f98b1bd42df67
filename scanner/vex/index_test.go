package vex_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modgate/modgate/scanner/vex"
)

// parse parses the named documents (name → JSON) into files.
func parse(t *testing.T, docs ...[2]string) []vex.File {
	t.Helper()
	var files []vex.File
	for _, nd := range docs {
		d, err := vex.Parse(nd[0], []byte(nd[1]))
		if err != nil {
			t.Fatalf("Parse(%s): %v", nd[0], err)
		}
		files = append(files, vex.File{Path: nd[0], Document: d})
	}
	return files
}

// answer renders what the index says about mod@version.
func answer(ix *vex.Index, mod, version string) string {
	var out []string
	for _, s := range ix.Statements(mod, version) {
		a := fmt.Sprintf("%s %s", s.Vulnerability, s.Status)
		if s.Justification != "" {
			a += " " + string(s.Justification)
		}
		if len(s.Aliases) > 0 {
			a += " aliases=" + strings.Join(s.Aliases, ",")
		}
		out = append(out, a+" from "+s.Source.File)
	}
	return strings.Join(out, "; ")
}

func TestIndexMatching(t *testing.T) {
	withSub := func(sub string) string {
		return fmt.Sprintf(`{"@id": "pkg:golang/example.com/app", "subcomponents": [{"@id": %q}]}`, sub)
	}
	files := parse(t,
		[2]string{"product.json", doc("urn:1", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, notAffected))},
		[2]string{"sub.json", doc("urn:2", "2024-01-01T00:00:00Z", stmt("GO-2", []string{withSub("pkg:golang/github.com/Azure/azure-sdk-for-go@v68.0.0%2Bincompatible")}, notAffected))},
		[2]string{"ident.json", doc("urn:3", "2024-01-01T00:00:00Z", stmt("GO-3", []string{`{"identifiers": {"purl": "pkg:golang/gopkg.in/yaml.v3@v3.0.1"}}`}, notAffected))},
		[2]string{"unversioned.json", doc("urn:4", "2024-01-01T00:00:00Z", stmt("GO-4", []string{"pkg:golang/example.com/vulnlib", withSub("pkg:golang/example.com/vulnlib")}, notAffected))},
		[2]string{"subpath.json", doc("urn:5", "2024-01-01T00:00:00Z", stmt("GO-5", []string{"pkg:golang/example.com/vulnlib@v1.0.0#internal/x"}, notAffected))},
		[2]string{"other.json", doc("urn:6", "2024-01-01T00:00:00Z", stmt("GO-6", []string{"pkg:npm/vulnlib@1.0.0", "pkg:golang/example.com/vulnlib@v1.0.1"}, notAffected))},
		[2]string{"pseudo.json", doc("urn:7", "2024-01-01T00:00:00Z", stmt("GO-7", []string{withSub("pkg:golang/golang.org/x/net@v0.0.0-20191010083416-a7dc8b61c822")}, affected))},
		[2]string{"noprefix.json", doc("urn:8", "2024-01-01T00:00:00Z", stmt("GO-8", []string{"pkg:golang/example.com/vulnlib@1.0"}, notAffected))},
	)
	ix, err := vex.NewIndex(files...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mod, version, want string }{
		{"example.com/vulnlib", "v1.0.0", "GO-1 not_affected vulnerable_code_not_in_execute_path from product.json; GO-8 not_affected vulnerable_code_not_in_execute_path from noprefix.json"},
		{"example.com/vulnlib", "v1.0.1", "GO-6 not_affected vulnerable_code_not_in_execute_path from other.json"},
		{"example.com/vulnlib", "v1.0.2", ""},
		{"example.com/vulnlib", "", ""},
		{"example.com/vulnlib", "master", ""},
		{"github.com/Azure/azure-sdk-for-go", "v68.0.0+incompatible", "GO-2 not_affected vulnerable_code_not_in_execute_path from sub.json"},
		{"github.com/Azure/azure-sdk-for-go", "v68.0.0", "GO-2 not_affected vulnerable_code_not_in_execute_path from sub.json"},
		{"github.com/azure/azure-sdk-for-go", "v68.0.0+incompatible", ""}, // module paths are case-sensitive
		{"gopkg.in/yaml.v3", "v3.0.1", "GO-3 not_affected vulnerable_code_not_in_execute_path from ident.json"},
		{"golang.org/x/net", "v0.0.0-20191010083416-a7dc8b61c822", "GO-7 affected from pseudo.json"},
		{"golang.org/x/net", "v0.0.0-20191010083416-a7dc8b61c823", ""},
		{"example.com/app", "v1.0.0", ""},
	} {
		if got := answer(ix, tc.mod, tc.version); got != tc.want {
			t.Errorf("Statements(%s, %s) = %q, want %q", tc.mod, tc.version, got, tc.want)
		}
	}
	st, ok := ix.Lookup("github.com/Azure/azure-sdk-for-go", "v68.0.0+incompatible", "GO-2")
	if !ok || st.Product != "pkg:golang/example.com/app" || st.Source != (vex.Source{File: "sub.json", DocumentID: "urn:2"}) {
		t.Errorf("Lookup(GO-2) = %+v, %v; want product example.com/app from sub.json", st, ok)
	}
	if st, _ := ix.Lookup("example.com/vulnlib", "v1.0.0", "GO-1"); st.Product != vulnlib {
		t.Errorf("Lookup(GO-1).Product = %q, want the product's own purl", st.Product)
	}
}

func TestIndexNewestWins(t *testing.T) {
	old := "2024-01-01T00:00:00Z"
	newer := "2024-02-01T00:00:00Z"
	for _, tc := range []struct {
		name string
		docs [][2]string
		want string
	}{
		{"newer document", [][2]string{
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, notAffected))},
			{"b.json", doc("urn:b", newer, stmt("GO-1", []string{vulnlib}, affected))},
		}, "GO-1 affected from b.json"},
		{"order does not matter", [][2]string{
			{"b.json", doc("urn:b", newer, stmt("GO-1", []string{vulnlib}, affected))},
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, notAffected))},
		}, "GO-1 affected from b.json"},
		{"statement timestamp overrides the document's", [][2]string{
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, notAffected+`, "timestamp": "2024-03-01T00:00:00Z"`))},
			{"b.json", doc("urn:b", newer, stmt("GO-1", []string{vulnlib}, affected))},
		}, "GO-1 not_affected vulnerable_code_not_in_execute_path from a.json"},
		{"statement last_updated", [][2]string{
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, notAffected+`, "timestamp": "2023-01-01T00:00:00Z", "last_updated": "2024-03-01T00:00:00+01:00"`))},
			{"b.json", doc("urn:b", newer, stmt("GO-1", []string{vulnlib}, affected))},
		}, "GO-1 not_affected vulnerable_code_not_in_execute_path from a.json"},
		{"document last_updated", [][2]string{
			{"a.json", strings.Replace(doc("urn:a", old, stmt("GO-1", []string{vulnlib}, notAffected)), `"version": 1`, `"version": 2, "last_updated": "2024-03-01T00:00:00Z"`, 1)},
			{"b.json", doc("urn:b", newer, stmt("GO-1", []string{vulnlib}, affected))},
		}, "GO-1 not_affected vulnerable_code_not_in_execute_path from a.json"},
		{"same document, later statement", [][2]string{
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, `"status": "under_investigation"`),
				stmt("GO-1", []string{vulnlib}, notAffected+`, "timestamp": "2024-01-02T00:00:00Z"`))},
		}, "GO-1 not_affected vulnerable_code_not_in_execute_path from a.json"},
		{"a tie exempts less", [][2]string{
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, affected))},
			{"b.json", doc("urn:b", old, stmt("GO-1", []string{vulnlib}, notAffected))},
		}, "GO-1 affected from a.json"},
		{"a tie exempts less, either order", [][2]string{
			{"b.json", doc("urn:b", old, stmt("GO-1", []string{vulnlib}, notAffected))},
			{"a.json", doc("urn:a", old, stmt("GO-1", []string{vulnlib}, `"status": "fixed"`))},
		}, "GO-1 fixed from a.json"},
		{"aliases make one vulnerability", [][2]string{
			{"a.json", doc("urn:a", old, `{"vulnerability": {"name": "GO-1", "aliases": ["CVE-1"]}, "products": [{"@id": "`+vulnlib+`"}], `+notAffected+`}`)},
			{"b.json", doc("urn:b", newer, `{"vulnerability": {"name": "CVE-1", "aliases": ["GHSA-1"]}, "products": [{"@id": "`+vulnlib+`"}], `+affected+`}`)},
			{"c.json", doc("urn:c", old, stmt("GO-2", []string{vulnlib}, notAffected))},
		}, "CVE-1 affected aliases=GHSA-1,GO-1 from b.json; GO-2 not_affected vulnerable_code_not_in_execute_path from c.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := vex.NewIndex(parse(t, tc.docs...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := answer(ix, "example.com/vulnlib", "v1.0.0"); got != tc.want {
				t.Errorf("Statements = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIndexLookupByAlias(t *testing.T) {
	ix, err := vex.NewIndex(parse(t,
		[2]string{"a.json", doc("urn:a", "2024-01-01T00:00:00Z", `{"vulnerability": {"name": "GO-1", "aliases": ["CVE-1"]}, "products": [{"@id": "`+vulnlib+`"}], `+notAffected+`}`)},
		[2]string{"b.json", doc("urn:b", "2024-02-01T00:00:00Z", stmt("CVE-1", []string{vulnlib}, notAffected+`, "impact_statement": "checked"`))},
	)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]string{{"GO-1"}, {"CVE-1"}, {"GHSA-x", "GO-1"}} {
		st, ok := ix.Lookup("example.com/vulnlib", "v1.0.0", ids...)
		if !ok || st.Source.File != "b.json" || st.ImpactStatement != "checked" {
			t.Errorf("Lookup(%v) = %+v, %v; want b.json's statement", ids, st, ok)
		}
	}
	if _, ok := ix.Lookup("example.com/vulnlib", "v1.0.0", "GO-9"); ok {
		t.Errorf("Lookup(GO-9) found a statement")
	}
	if err := func() error { _, err := vex.NewIndex(vex.File{Path: "x.json", Document: &vex.Document{}}); return err }(); err == nil ||
		!strings.HasPrefix(err.Error(), "x.json: @context is missing") {
		t.Errorf("NewIndex(invalid) = %v, want it validated", err)
	}
}
