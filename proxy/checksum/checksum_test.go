package checksum

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestParseGOSUMDB(t *testing.T) {
	_, vkey, err := note.GenerateKey(nil, "sum.test.local")
	if err != nil {
		t.Fatal(err)
	}
	known := func(name string) string {
		if name == "sum.test.local" {
			return vkey
		}
		return ""
	}
	tests := []struct {
		in      string
		name    string
		url     string
		off     bool
		wantErr string
	}{
		{in: "off", off: true},
		{in: vkey, name: "sum.test.local"},
		{in: "sum.test.local", name: "sum.test.local"},
		{in: vkey + " http://127.0.0.1:9/sumdb/x/", name: "sum.test.local", url: "http://127.0.0.1:9/sumdb/x"},
		{in: "unknown.example", wantErr: "no verifier key known"},
		{in: "a b c", wantErr: "want"},
		{in: vkey + " ftp://x", wantErr: "URL"},
		{in: "sum.test.local+bad+key", wantErr: "key"},
	}
	for _, tt := range tests {
		db, err := ParseGOSUMDB(tt.in, known)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseGOSUMDB(%q) = %v, %v; want error containing %q", tt.in, db, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseGOSUMDB(%q) = %v", tt.in, err)
			continue
		}
		if tt.off {
			if db != nil {
				t.Errorf("ParseGOSUMDB(off) = %+v, want nil", db)
			}
			continue
		}
		if db.Name != tt.name || db.URL != tt.url || db.Key != vkey {
			t.Errorf("ParseGOSUMDB(%q) = %+v", tt.in, db)
		}
	}
}

func TestToolchainKey(t *testing.T) {
	goroot := t.TempDir()
	dir := filepath.Join(goroot, "src", "cmd", "go", "internal", "modfetch")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "key.go"), []byte("package modfetch\n\nvar knownGOSUMDB = map[string]string{\n\t\"db.example\": \"db.example+12345678+AAAA\",\n}\n"), 0o644)
	if got := ToolchainKey(goroot, "db.example"); got != "db.example+12345678+AAAA" {
		t.Errorf("ToolchainKey = %q", got)
	}
	if got := ToolchainKey(goroot, "other.example"); got != "" {
		t.Errorf("ToolchainKey(unknown) = %q, want empty", got)
	}
	if got := ToolchainKey(t.TempDir(), "db.example"); got != "" {
		t.Errorf("ToolchainKey without sources = %q, want empty", got)
	}
}

func TestModHashAndPrivate(t *testing.T) {
	h, err := ModHash([]byte("module example.com/a\n"))
	if err != nil || !strings.HasPrefix(h, "h1:") {
		t.Fatalf("ModHash = %q, %v", h, err)
	}
	v := &Verifier{NoSumDB: "corp.example/*,*.internal"}
	for path, want := range map[string]bool{"corp.example/x": true, "corp.example/x/y": true, "git.internal/a": true, "example.com/a": false} {
		if got := v.Private(path); got != want {
			t.Errorf("Private(%q) = %v, want %v", path, got, want)
		}
	}
}
