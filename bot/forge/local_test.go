package forge

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestOwnerName(t *testing.T) {
	for _, tt := range []struct{ remote, want string }{
		{"https://github.com/acme/svc.git", "acme/svc"},
		{"https://github.com/acme/svc", "acme/svc"},
		{"git@github.com:acme/svc.git", "acme/svc"},
		{"ssh://git@ghe.example.com/acme/svc.git", "acme/svc"},
		{"http://127.0.0.1:4321/acme/svc.git", "acme/svc"},
		{"/srv/git/svc.git", "git/svc"},
		{"svc", ""},
	} {
		if got := ownerName(tt.remote); got != tt.want {
			t.Errorf("ownerName(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "--quiet")
	l := &Local{Dir: dir}
	if got, err := l.Name(); err != nil || got != "local/"+filepath.Base(dir) {
		t.Errorf("Name() without a remote = %q, %v", got, err)
	}
	run("remote", "add", "origin", "https://github.com/acme/svc.git")
	if got, err := l.Name(); err != nil || got != "acme/svc" {
		t.Errorf("Name() = %q, %v", got, err)
	}
	ctx := context.Background()
	r, err := l.Repo(ctx, "acme", "svc")
	if err != nil || r.CloneURL != "file://"+filepath.ToSlash(dir) || r.DefaultBranch != "" {
		t.Errorf("Repo = %+v, %v", r, err)
	}
	if ps, err := l.OpenPulls(ctx, r, "modgate/"); err != nil || ps != nil {
		t.Errorf("OpenPulls = %v, %v", ps, err)
	}
	if err := l.Comment(ctx, r, 1, "x"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Comment = %v, want ErrReadOnly", err)
	}
	if _, err := (&Local{Dir: t.TempDir()}).Name(); err == nil {
		t.Error("Name() outside a git work tree succeeded")
	}
}
