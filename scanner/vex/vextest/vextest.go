// Package vextest checks OpenVEX documents in tests against the
// official OpenVEX v0.2.0 JSON schema, kept in the repository as
// testdata/vex/openvex-schema-0.2.0.json (see testdata/vex/README.md).
package vextest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaFile is the schema's file name in [Testdata].
const SchemaFile = "openvex-schema-0.2.0.json"

// Testdata returns the absolute testdata/vex directory.
func Testdata(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("vextest: cannot locate the source directory")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "vex")
}

// Schema compiles the OpenVEX schema, formats (iri, date-time)
// asserted.
func Schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join(Testdata(t), SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(SchemaFile, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Check returns the schema's verdict on data: nil when it is valid.
func Check(t testing.TB, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// Validate fails the test unless data is a valid OpenVEX document.
func Validate(t testing.TB, s *jsonschema.Schema, data []byte) {
	t.Helper()
	if err := Check(t, s, data); err != nil {
		t.Fatalf("OpenVEX document is invalid: %v\n%s", err, data)
	}
}
