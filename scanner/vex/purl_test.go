package vex

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestPURLFormatAndParse(t *testing.T) {
	for _, tc := range []struct {
		p    PURL
		want string
	}{
		{PURL{Module: "github.com/Azure/azure-sdk-for-go", Version: "v68.0.0+incompatible"},
			"pkg:golang/github.com/Azure/azure-sdk-for-go@v68.0.0%2Bincompatible"},
		{PURL{Module: "github.com/Azure/azure-sdk-for-go/sdk/azcore", Version: "v1.11.1"},
			"pkg:golang/github.com/Azure/azure-sdk-for-go/sdk/azcore@v1.11.1"},
		{PURL{Module: "gopkg.in/yaml.v3", Version: "v3.0.1"}, "pkg:golang/gopkg.in/yaml.v3@v3.0.1"},
		{PURL{Module: "golang.org/x/net", Version: "v0.0.0-20191010083416-a7dc8b61c822"},
			"pkg:golang/golang.org/x/net@v0.0.0-20191010083416-a7dc8b61c822"},
		{PURL{Module: "example.com/m/v2", Version: "v2.1.1-0.20240102030405-abcdefabcdef"},
			"pkg:golang/example.com/m/v2@v2.1.1-0.20240102030405-abcdefabcdef"},
		{PURL{Module: "example.com/m", Version: "v0.0.0-20240102030405-abcdefabcdef+incompatible"},
			"pkg:golang/example.com/m@v0.0.0-20240102030405-abcdefabcdef%2Bincompatible"},
		{PURL{Module: "github.com/u/tilde~x_y", Version: "v1.0.0"}, "pkg:golang/github.com/u/tilde~x_y@v1.0.0"},
		{PURL{Module: "stdlib", Version: "v1.21.0"}, "pkg:golang/stdlib@v1.21.0"},
		{PURL{Module: "example.com/app"}, "pkg:golang/example.com/app"},
		{PURL{Module: "google.golang.org/genproto", Subpath: "googleapis/api/annotations"},
			"pkg:golang/google.golang.org/genproto#googleapis/api/annotations"},
		{PURL{Module: "example.com/m", Version: "v1.0.0", Qualifiers: map[string]string{"type": "module", "goos": "linux os"}},
			"pkg:golang/example.com/m@v1.0.0?goos=linux%20os&type=module"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v.String() = %s, want %s", tc.p, got, tc.want)
		}
		got, err := ParsePURL(tc.want)
		if err != nil {
			t.Errorf("ParsePURL(%q): %v", tc.want, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.p) {
			t.Errorf("ParsePURL(%q) = %+v, want %+v", tc.want, got, tc.p)
		}
	}
	// Formatting does not validate: graph output of odd paths stays
	// well-formed.
	if got, want := ModulePURL("example.com/a b", "v0.0.0-2024"), "pkg:golang/example.com/a%20b@v0.0.0-2024"; got != want {
		t.Errorf("ModulePURL = %s, want %s", got, want)
	}
}

func TestParsePURLVariants(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PURL
	}{
		// govulncheck escapes the whole module path as one segment.
		{"pkg:golang/github.com%2FAzure%2Fazure-sdk-for-go@v1.0.0", PURL{Module: "github.com/Azure/azure-sdk-for-go", Version: "v1.0.0"}},
		// Needlessly encoded characters decode.
		{"pkg:golang/github.com/%41zure/go-autorest@v14.2.0%2bincompatible", PURL{Module: "github.com/Azure/go-autorest", Version: "v14.2.0+incompatible"}},
		// A literal "+" is the character itself, not a space.
		{"pkg:golang/github.com/Azure/go-autorest@v14.2.0+incompatible", PURL{Module: "github.com/Azure/go-autorest", Version: "v14.2.0+incompatible"}},
		{"PKG:GOLANG/gopkg.in/yaml.v3@v3.0.1", PURL{Module: "gopkg.in/yaml.v3", Version: "v3.0.1"}},
		{"pkg:/golang/gopkg.in/yaml.v3@v3.0.1", PURL{Module: "gopkg.in/yaml.v3", Version: "v3.0.1"}},
		// The purl spec's own example: a commit as the version.
		{"pkg:golang/github.com/gorilla/context@234fd47e07d1004f0aed9c", PURL{Module: "github.com/gorilla/context", Version: "234fd47e07d1004f0aed9c"}},
		{"pkg:golang/example.com/m@v1.0.0?Type=module&goos=#./a/../b/", PURL{Module: "example.com/m", Version: "v1.0.0",
			Qualifiers: map[string]string{"type": "module"}, Subpath: "a/b"}},
		{"pkg:golang/example.com/m/", PURL{Module: "example.com/m"}},
	} {
		got, err := ParsePURL(tc.in)
		if err != nil {
			t.Errorf("ParsePURL(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParsePURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParsePURLErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"golang/example.com/m@v1.0.0", "not a package URL"},
		{"pkg:npm/lodash@4.17.21", `type "npm" is not golang`},
		{"pkg:golang/@v1.0.0", "no module path"},
		{"pkg:golang/example.com/m@", "empty version"},
		{"pkg:golang/example.com/m%ZZ@v1.0.0", "module path: invalid URL escape"},
		{"pkg:golang/example.com/m@v1%ZZ", "version: invalid URL escape"},
		{"pkg:golang/-example.com/m@v1.0.0", "malformed module path"},
		{"pkg:golang/example.com//m@v1.0.0", "malformed module path"},
		{"pkg:golang/example.com/m@v1.0.0?noequals", `qualifier "noequals" is not key=value`},
	} {
		_, err := ParsePURL(tc.in)
		var pe *PURLError
		if !errors.As(err, &pe) || pe.PURL != tc.in || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePURL(%q) = %v, want a PURLError containing %q", tc.in, err, tc.want)
		}
	}
}

func TestCanonicalVersion(t *testing.T) {
	for _, tc := range [][2]string{
		{"v1.2.3", "v1.2.3"},
		{"v1.2", "v1.2.0"},
		{"1.2.3", "v1.2.3"},
		{"v2.0.0+incompatible", "v2.0.0"},
		{"v0.0.0-20191010083416-a7dc8b61c822", "v0.0.0-20191010083416-a7dc8b61c822"},
		{"234fd47e07d1004f0aed9c", ""},
		{"", ""},
	} {
		if got := canonicalVersion(tc[0]); got != tc[1] {
			t.Errorf("canonicalVersion(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
}
