package proxy

import (
	"errors"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy/internal/modpath"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		path string
		want Request
	}{
		{"/example.com/a/@v/list", Request{Module: "example.com/a", Kind: KindList}},
		{"/example.com/a/@latest", Request{Module: "example.com/a", Kind: KindLatest}},
		{"/example.com/a/@v/v1.0.0.info", Request{"example.com/a", "v1.0.0", KindInfo}},
		{"/example.com/a/@v/v1.0.0.mod", Request{"example.com/a", "v1.0.0", KindMod}},
		{"/example.com/a/@v/v1.0.0.zip", Request{"example.com/a", "v1.0.0", KindZip}},
		{"/example.com/!upper/!case/@v/v1.0.0.zip", Request{"example.com/Upper/Case", "v1.0.0", KindZip}},
		{"/example.com/a/v2/@v/v2.1.0.mod", Request{"example.com/a/v2", "v2.1.0", KindMod}},
		{"/example.com/a/@v/v2.0.0+incompatible.zip", Request{"example.com/a", "v2.0.0+incompatible", KindZip}},
		{"/example.com/a/@v/v1.2.3-!r!c1.info", Request{"example.com/a", "v1.2.3-RC1", KindInfo}},
		{"/example.com/a/@v/master.info", Request{"example.com/a", "master", KindInfo}},
		{"/example.com/a/@v/abcdef12.info", Request{"example.com/a", "abcdef12", KindInfo}},
		{"/golang.org/toolchain/@v/v0.0.1-go1.22.0.linux-amd64.zip", Request{"golang.org/toolchain", "v0.0.1-go1.22.0.linux-amd64", KindZip}},
		{"/example.com/a/@v/v0.0.0-20240101000000-abcdefabcdef.mod", Request{"example.com/a", "v0.0.0-20240101000000-abcdefabcdef", KindMod}},
	}
	for _, tt := range tests {
		got, err := ParseRequest(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("ParseRequest(%q) = %+v, %v; want %+v", tt.path, got, err, tt.want)
		}
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		path, wantErr string
	}{
		{"", "must start with /"},
		{"/", "not a module proxy path"},
		{"/example.com/a", "not a module proxy path"},
		{"/example.com/a/@v/", "unknown file"},
		{"/example.com/a/@v/v1.0.0.tar", "unknown file"},
		{"/example.com/A/@v/list", "invalid escaped module path"},
		{"/example.com/!!a/@v/list", "invalid escaped module path"},
		{"/../../etc/passwd/@v/list", "invalid"},
		{"/example.com/../a/@v/list", "invalid"},
		{"/example.com/%2e%2e/@v/list", "invalid"},
		{"/example.com/a/@v/..zip", "invalid escaped version"},
		{"/example.com/a/@v/../../x.info", "invalid escaped version"},
		{"/example.com/a/@v/.hidden.info", "malformed version"},
		{"/example.com/a/@v/v1.0.info\x00", "unknown file"},
		{"/example.com/a/@v/v1.0\x00.info", "invalid char"},
		{"/example.com/a/@v/v1.0.zip", "not canonical"},
		{"/example.com/a/@v/master.zip", "not canonical"},
		{"/example.com/a/@v/V1.0.0.mod", "invalid escaped version"},
		{"/example.com/a/@v/v2.0.0.mod", "should be v0 or v1"},
		{"/example.com/a/v2/@v/v1.0.0.zip", "should be v2"},
		{"/example.com/a/@v/v1.0.0 .info", "not allowed"},
		{"/" + strings.Repeat("a", 2000) + "/@v/list", "longer than"},
		{"/-example.com/a/@v/list", "leading dash"},
		{"/example.com/a/@v/v1.0.0-" + strings.Repeat("x", 250) + ".info", "version too long"},
		{"/example.com/a/@v/v1.0.0-" + strings.Repeat("x", 250) + ".zip", "version too long"},
		{"/example.com/" + strings.Repeat("b", 250) + "/@v/list", "element too long"},
	}
	for _, tt := range tests {
		got, err := ParseRequest(tt.path)
		if err == nil {
			t.Errorf("ParseRequest(%q) = %+v, want error containing %q", tt.path, got, tt.wantErr)
			continue
		}
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseRequest(%q) error %v does not match ErrBadRequest", tt.path, err)
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseRequest(%q) = %v, want error containing %q", tt.path, err, tt.wantErr)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"/example.com/a/@v/list", "/example.com/!a/@v/v1.0.0.zip", "/x/@latest", "/a/@v/master.info", "/a/../@v/list"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		req, err := ParseRequest(path)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("ParseRequest(%q) error %v is not ErrBadRequest", path, err)
			}
			return
		}
		// A parsed request must round-trip through escaping and can never
		// name a parent directory.
		var checks modpath.Checks
		ep, ev, err := checks.Escape(req.Module, req.Version)
		if err != nil {
			t.Fatalf("ParseRequest(%q) = %+v, but escaping fails: %v", path, req, err)
		}
		for _, s := range []string{ep, ev} {
			for _, elem := range strings.Split(s, "/") {
				if elem == ".." || elem == "." {
					t.Fatalf("ParseRequest(%q) produced dot element in %q", path, s)
				}
			}
		}
		if req.Kind == KindZip || req.Kind == KindMod {
			if !req.Canonical() {
				t.Fatalf("ParseRequest(%q) = non-canonical %s request", path, req.Kind)
			}
		}
	})
}
