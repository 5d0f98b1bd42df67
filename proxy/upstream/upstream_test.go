package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		list    string
		want    []Entry
		wantErr string
	}{
		{"http://a", []Entry{{URL: "http://a"}}, ""},
		{"http://a/,https://b|file:///c", []Entry{{URL: "http://a"}, {URL: "https://b", FallbackOnError: true}, {URL: "file:///c"}}, ""},
		{"http://a,direct", []Entry{{URL: "http://a"}, {URL: "direct"}}, ""},
		{"off", []Entry{{URL: "off"}}, ""},
		{" http://a , ,http://b", []Entry{{URL: "http://a"}, {URL: "http://b"}}, ""},
		{"", nil, "empty"},
		{"example.com", nil, "no scheme"},
		{"ftp://a", nil, "unsupported scheme"},
	}
	for _, tt := range tests {
		got, err := ParseList(tt.list)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseList(%q) = %v, %v; want error containing %q", tt.list, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v", tt.list, got, err, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseList(%q)[%d] = %+v, want %+v", tt.list, i, got[i], tt.want[i])
			}
		}
	}
}

// statusServer answers every request with status and counts requests.
func statusServer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// TestFallThrough checks the go command's list semantics: "," falls
// through only on 404/410, "|" on any error.
func TestFallThrough(t *testing.T) {
	ok, okN := statusServer(t, 200, "found")
	missing, _ := statusServer(t, 404, "not here")
	gone, _ := statusServer(t, 410, "gone")
	broken, _ := statusServer(t, 500, "boom")
	tests := []struct {
		name       string
		list       string
		wantBody   string
		wantStatus int // of the returned *Error when wantBody is ""
		notFound   bool
	}{
		{"404 falls through comma", missing.URL + "," + ok.URL, "found", 0, false},
		{"410 falls through comma", gone.URL + "," + ok.URL, "found", 0, false},
		{"500 stops at comma", broken.URL + "," + ok.URL, "", 500, false},
		{"500 falls through pipe", broken.URL + "|" + ok.URL, "found", 0, false},
		{"all missing", missing.URL + "," + gone.URL, "", 410, true},
		{"direct ends the list as not found", missing.URL + ",direct", "", 404, true},
		{"off", "off", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := ParseList(tt.list)
			if err != nil {
				t.Fatal(err)
			}
			c := &Client{Entries: entries, Retries: -1}
			resp, err := c.Get(context.Background(), "example.com/a/@v/list", Meta)
			if tt.wantBody != "" {
				if err != nil {
					t.Fatalf("Get = %v, want %q", err, tt.wantBody)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != tt.wantBody {
					t.Errorf("body = %q, want %q", b, tt.wantBody)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatal("Get succeeded, want an error")
			}
			if tt.list == "off" {
				if !errors.Is(err, ErrOff) {
					t.Errorf("Get = %v, want ErrOff", err)
				}
				return
			}
			var ue *Error
			if !errors.As(err, &ue) || ue.Status != tt.wantStatus || errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("Get = %v, want status %d, not-found %v", err, tt.wantStatus, tt.notFound)
			}
		})
	}
	if okN.Load() == 0 {
		t.Error("the working upstream was never reached")
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer s.Close()
	c := &Client{Entries: []Entry{{URL: s.URL}}, Retries: 2}
	resp, err := c.Get(context.Background(), "x/@v/list", Meta)
	if err != nil {
		t.Fatalf("Get after two 503s = %v, want success on the third try", err)
	}
	resp.Body.Close()
	if n.Load() != 3 {
		t.Errorf("requests = %d, want 3", n.Load())
	}
}

func TestTimeoutsAndIdleBodies(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "hang") {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(release)
	c := &Client{Entries: []Entry{{URL: s.URL}}, Timeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond, Retries: -1}
	_, err := c.Get(context.Background(), "hang", Meta)
	var ue *Error
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("hanging upstream: Get = %v, want a timeout", err)
	}
	resp, err := c.Get(context.Background(), "stall", Zip)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.As(err, &ue) || !ue.Timeout() {
		t.Errorf("stalled body: read = %v, want an idle timeout", err)
	}
}

func TestCredentialsRedacted(t *testing.T) {
	s, _ := statusServer(t, 500, "boom")
	u := strings.Replace(s.URL, "http://", "http://user:hunter2@", 1)
	c := &Client{Entries: []Entry{{URL: u}}, Retries: -1}
	_, err := c.Get(context.Background(), "x/@v/list", Meta)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v leaks the password", err)
	}
}

func TestFileUpstream(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "example.com", "a", "@v"), 0o755)
	os.WriteFile(filepath.Join(dir, "example.com", "a", "@v", "list"), []byte("v1.0.0\n"), 0o644)
	c := &Client{Entries: []Entry{{URL: "file://" + dir}}}
	resp, err := c.Get(context.Background(), "example.com/a/@v/list", Meta)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "v1.0.0\n" {
		t.Errorf("file upstream body = %q", b)
	}
	if _, err := c.Get(context.Background(), "example.com/b/@v/list", Meta); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file = %v, want not found", err)
	}
}
