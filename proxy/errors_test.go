package proxy

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/modgate/modgate/proxy/modcache"
)

// TestStorageErrorStatus checks that storage failures get a status that
// says whose problem they are, name the module and version, and never
// show the server path the underlying error carries.
func TestStorageErrorStatus(t *testing.T) {
	const secret = "/var/lib/modgate/secret-root/tmp-123"
	pathErr := func(errno error) error {
		return &modcache.StorageError{Op: "write scratch file", Err: &fs.PathError{Op: "write", Path: secret, Err: errno}}
	}
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"disk full", pathErr(syscall.ENOSPC), http.StatusInsufficientStorage, "storage is full"},
		{"quota", pathErr(syscall.EDQUOT), http.StatusInsufficientStorage, "storage is full"},
		{"name too long", pathErr(syscall.ENAMETOOLONG), http.StatusBadRequest, "too long"},
		{"permission", pathErr(syscall.EACCES), http.StatusInternalServerError, "permission denied"},
		{"read-only", pathErr(syscall.EROFS), http.StatusInternalServerError, "not writable"},
		{"other", pathErr(errors.New("boom")), http.StatusInternalServerError, "internal storage error during write scratch file"},
	}
	req := Request{Module: "example.com/a", Version: "v1.0.0", Kind: KindZip}
	for _, tt := range tests {
		status, body := describe(req, tt.err)
		if status != tt.status || !strings.Contains(body, tt.want) || !strings.Contains(body, "example.com/a@v1.0.0") {
			t.Errorf("%s: describe = %d %q, want %d with %q and the module version", tt.name, status, body, tt.status, tt.want)
		}
		if strings.Contains(body, secret) {
			t.Errorf("%s: body %q shows the server path", tt.name, body)
		}
	}
}
