package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"mod/example.com/a/@v/v1.0.0.zip", true},
		{"mod/!upper/@v/list", true},
		{"", false},
		{"/etc/passwd", false},
		{"a/../b", false},
		{"..", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/b/", false},
		{"a\\b", false},
		{"a\x00b", false},
		{strings.Repeat("a", 5000), false},
	}
	for _, tt := range tests {
		err := CheckKey(tt.key)
		if (err == nil) != tt.ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, not ErrInvalidKey", tt.key, err)
		}
	}
}

func TestDiskPutGetWalkDelete(t *testing.T) {
	ctx := context.Background()
	d, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, "a/b"); !IsNotExist(err) {
		t.Fatalf("Get(missing) = %v, want not-exist", err)
	}
	for _, k := range []string{"a/b", "a/c/d", "b/x"} {
		if err := d.Put(ctx, k, strings.NewReader("content of "+k)); err != nil {
			t.Fatalf("Put(%q) = %v", k, err)
		}
	}
	if err := d.Put(ctx, "a/b", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	b, err := d.Get(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(b)
	b.Close()
	if string(data) != "new" || b.Size() != 3 {
		t.Errorf("Get(a/b) = %q size %d, want %q size 3", data, b.Size(), "new")
	}
	var keys []string
	if err := d.Walk(ctx, "a/", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys, ","); got != "a/b,a/c/d" {
		t.Errorf("Walk(a/) = %s, want a/b,a/c/d", got)
	}
	if err := d.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "a/b"); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
	if _, err := d.Get(ctx, "a/b"); !IsNotExist(err) {
		t.Errorf("Get after Delete = %v, want not-exist", err)
	}
}

func TestDiskRejectsEscapes(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDisk(filepath.Join(root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"../escape", "/abs", "a/../../escape", ".tmp/x"} {
		if err := d.Put(ctx, k, strings.NewReader("x")); err == nil {
			t.Errorf("Put(%q) = nil, want error", k)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "escape")); err == nil {
		t.Errorf("a file was written outside the store")
	}
}

// failingReader fails after some bytes, like a connection reset.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestDiskFailedPutLeavesNothing(t *testing.T) {
	ctx := context.Background()
	d, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "k", strings.NewReader("old")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "k", &failingReader{n: 10}); err == nil {
		t.Fatal("Put with failing reader = nil, want error")
	}
	b, err := d.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(b)
	b.Close()
	if string(data) != "old" {
		t.Errorf("after failed Put, Get = %q, want old content", data)
	}
	tmp, _ := os.ReadDir(filepath.Join(d.Root, tmpDir))
	if len(tmp) != 0 {
		t.Errorf("temp files left behind: %d", len(tmp))
	}
}

func TestNewDiskCleansOrphans(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o755); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(root, tmpDir, "put-123")
	os.WriteFile(orphan, []byte("partial"), 0o644)
	if _, err := NewDisk(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Error("orphaned temp file survived NewDisk")
	}
}
