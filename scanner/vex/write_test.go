package vex_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/scanner/vex"
	"github.com/modgate/modgate/scanner/vex/vextest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// clock is the fixed time of the written documents.
func clock() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 500, time.FixedZone("x", 3600)) }

// sampleFacts covers every reachability, merging, aliases, a module
// without a fixed version, two products and the standard library.
func sampleFacts() []vex.Fact {
	return []vex.Fact{
		{Product: "example.com/app", Module: "example.com/vulnlib", Version: "v1.0.0", Vulnerability: "GO-2099-0101",
			Aliases: []string{"CVE-2099-0101"}, Reachability: vex.Imported, Fixed: "v1.0.1"},
		{Product: "example.com/app", Module: "example.com/vulnlib", Version: "v1.0.0", Vulnerability: "GO-2099-0101",
			Aliases: []string{"GHSA-xxxx-yyyy-zzzz", "CVE-2099-0101"}, Reachability: vex.Called, Fixed: "v1.0.1"},
		{Product: "example.com/app/tools", Module: "example.com/vulnlib", Version: "v1.0.0", Vulnerability: "GO-2099-0101",
			Aliases: []string{"CVE-2099-0101"}, Reachability: vex.Required},
		{Product: "example.com/app", Module: "github.com/Azure/azure-sdk-for-go", Version: "v68.0.0+incompatible",
			Vulnerability: "GO-2099-0102", Reachability: vex.Imported},
		{Product: "example.com/app", Module: "stdlib", Version: "v1.21.0", Vulnerability: "GO-2099-0001", Reachability: vex.Called, Fixed: "v1.21.5"},
		{Product: "example.com/app", Module: "example.com/nofix", Version: "v0.1.0", Vulnerability: "GO-2099-0103", Reachability: vex.Called},
		{Module: "gopkg.in/yaml.v3", Version: "v3.0.0", Vulnerability: "GHSA-aaaa-bbbb-cccc", Reachability: vex.Required, Fixed: "v3.0.1"},
	}
}

func write(t *testing.T, w *vex.Writer, facts []vex.Fact) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := w.Write(&b, facts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func TestWriterGolden(t *testing.T) {
	got := write(t, &vex.Writer{Now: clock, Tooling: "modgate test"}, sampleFacts())
	golden := filepath.Join(vextest.Testdata(t), "writer.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Write differs from %s (run with -update to accept):\n%s", golden, got)
	}
	vextest.Validate(t, vextest.Schema(t), got)
}

func TestWriterDeterministic(t *testing.T) {
	w := &vex.Writer{Now: clock}
	first := write(t, w, sampleFacts())
	shuffled := sampleFacts()
	slices.Reverse(shuffled)
	if again := write(t, w, shuffled); !bytes.Equal(first, again) {
		t.Errorf("Write depends on the order of facts:\n%s\n---\n%s", first, again)
	}
	later := &vex.Writer{Now: func() time.Time { return clock().Add(48 * time.Hour) }}
	d1, _ := w.Document(sampleFacts())
	d2, _ := later.Document(sampleFacts())
	if d1.ID != d2.ID || d1.Timestamp == d2.Timestamp || !strings.HasPrefix(d1.ID, vex.DocumentIDPrefix) {
		t.Errorf("@id %s / %s at %s / %s: want the same content-derived @id at different times", d1.ID, d2.ID, d1.Timestamp, d2.Timestamp)
	}
	all := sampleFacts()
	fewer, _ := w.Document(all[:len(all)-1])
	if fewer.ID == d1.ID {
		t.Errorf("@id unchanged when the statements change")
	}
	empty := write(t, w, nil)
	if !bytes.Contains(empty, []byte(`"statements": []`)) {
		t.Errorf("Write(no facts) = %s, want an empty statements list", empty)
	}
}

// TestWriterRoundTrip: what the writer writes loads, and the index
// answers the facts.
func TestWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modgate.vex.json")
	if err := os.WriteFile(path, write(t, &vex.Writer{Now: clock}, sampleFacts()), 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err := vex.Load(path)
	if err != nil {
		t.Fatalf("Load(written): %v", err)
	}
	for _, tc := range []struct{ mod, version, want string }{
		// Called in example.com/app wins the tie against
		// example.com/app/tools, which only requires it.
		{"example.com/vulnlib", "v1.0.0", "GO-2099-0101 affected aliases=CVE-2099-0101,GHSA-xxxx-yyyy-zzzz from " + path},
		{"github.com/Azure/azure-sdk-for-go", "v68.0.0+incompatible", "GO-2099-0102 not_affected vulnerable_code_not_in_execute_path from " + path},
		{"gopkg.in/yaml.v3", "v3.0.0", "GHSA-aaaa-bbbb-cccc not_affected vulnerable_code_not_present from " + path},
		{"stdlib", "v1.21.0", "GO-2099-0001 affected from " + path},
	} {
		if got := answer(ix, tc.mod, tc.version); got != tc.want {
			t.Errorf("Statements(%s, %s) = %q, want %q", tc.mod, tc.version, got, tc.want)
		}
	}
	st, _ := ix.Lookup("example.com/vulnlib", "v1.0.0", "CVE-2099-0101")
	if st.ActionStatement != "Upgrade example.com/vulnlib to v1.0.1 or later." || !st.Timestamp.Equal(clock().Truncate(time.Second)) {
		t.Errorf("Lookup = %+v, want the upgrade action at the clock's time", st)
	}
}

func TestWriterRejectsFacts(t *testing.T) {
	for _, tc := range []struct {
		f    vex.Fact
		want string
	}{
		{vex.Fact{Module: "example.com/m", Vulnerability: "GO-1", Reachability: vex.Called}, "facts[0]: example.com/m@: module and version are required"},
		{vex.Fact{Module: "example.com/m", Version: "v1.0.0", Reachability: vex.Called}, "no vulnerability ID"},
		{vex.Fact{Module: "example.com/m", Version: "v1.0.0", Vulnerability: "GO-1"}, "reachability(0)"},
	} {
		if _, err := (&vex.Writer{}).Document([]vex.Fact{tc.f}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Document(%+v) = %v, want %q", tc.f, err, tc.want)
		}
	}
}

// TestSchemaRejects makes sure the schema validator is live.
func TestSchemaRejects(t *testing.T) {
	s := vextest.Schema(t)
	good := doc("https://example.com/vex/1", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, notAffected))
	if err := vextest.Check(t, s, []byte(good)); err != nil {
		t.Fatalf("valid document rejected: %v", err)
	}
	for name, bad := range map[string]string{
		"not_affected without reason": doc("https://example.com/vex/1", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, `"status": "not_affected"`)),
		"affected without action":     doc("https://example.com/vex/1", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, `"status": "affected"`)),
		"unknown justification":       doc("https://example.com/vex/1", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, `"status": "not_affected", "justification": "x"`)),
		"bad timestamp":               doc("https://example.com/vex/1", "yesterday", stmt("GO-1", []string{vulnlib}, notAffected)),
		"relative @id":                doc("vex-1", "2024-01-01T00:00:00Z", stmt("GO-1", []string{vulnlib}, notAffected)),
		"no statements":               doc("https://example.com/vex/1", "2024-01-01T00:00:00Z"),
	} {
		if vextest.Check(t, s, []byte(bad)) == nil {
			t.Errorf("schema accepts a document with %s", name)
		}
	}
}
