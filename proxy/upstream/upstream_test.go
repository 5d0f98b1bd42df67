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
			b, err := c.FetchBytes(context.Background(), "example.com/a/@v/list", Meta, 1<<10)
			if tt.wantBody != "" {
				if err != nil || string(b) != tt.wantBody {
					t.Fatalf("FetchBytes = %q, %v; want %q", b, err, tt.wantBody)
				}
				return
			}
			if err == nil {
				t.Fatal("FetchBytes succeeded, want an error")
			}
			if tt.list == "off" {
				if !errors.Is(err, ErrOff) {
					t.Errorf("FetchBytes = %v, want ErrOff", err)
				}
				return
			}
			var ue *Error
			if !errors.As(err, &ue) || ue.Status != tt.wantStatus || errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("FetchBytes = %v, want status %d, not-found %v", err, tt.wantStatus, tt.notFound)
			}
		})
	}
	if okN.Load() == 0 {
		t.Error("the working upstream was never reached")
	}
}

// fault is how a faultServer spoils one answer.
type fault func(w http.ResponseWriter, r *http.Request)

var (
	fault503 fault = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }
	// resetBeforeHeaders closes the connection without an answer.
	resetBeforeHeaders fault = func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	}
	// resetAfterHeaders announces the whole body, sends a part and
	// closes the connection.
	resetAfterHeaders fault = func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nv1.0.0\n")
		buf.Flush()
		conn.Close()
	}
	// chunkedCut ends a chunked body without its final chunk.
	chunkedCut fault = func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nv1.0.0\n\r\n")
		buf.Flush()
		conn.Close()
	}
	// stallAfterHeaders sends part of the body, then nothing.
	stallAfterHeaders fault = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("v1.0.0\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	// hangBeforeHeaders never answers.
	hangBeforeHeaders fault = func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
)

// faultServer spoils the first n answers with f, then answers body.
func faultServer(t *testing.T, f fault, n int32, body string) (*httptest.Server, *atomic.Int32) {
	var count atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) <= n {
			f(w, r)
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s, &count
}

// TestRetries checks that every failure short of an answer is retried,
// before or after the headers, and that answers are not.
func TestRetries(t *testing.T) {
	const body = "v1.0.0\nv1.1.0\n"
	tests := []struct {
		name      string
		fault     fault
		faults    int32
		limit     int64
		wantCalls int32
		wantErr   error // nil: success with body
	}{
		{"503 twice", fault503, 2, 1 << 10, 3, nil},
		{"reset before headers", resetBeforeHeaders, 1, 1 << 10, 2, nil},
		{"reset after headers", resetAfterHeaders, 1, 1 << 10, 2, nil},
		{"chunked body cut", chunkedCut, 1, 1 << 10, 2, nil},
		{"stall after headers", stallAfterHeaders, 1, 1 << 10, 2, nil},
		{"hang before headers", hangBeforeHeaders, 1, 1 << 10, 2, nil},
		{"503 beyond the retries", fault503, 3, 1 << 10, 3, errAny},
		{"404 is an answer", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, 1, 1 << 10, 1, ErrNotFound},
		{"too large is not retried", nil, 0, 4, 1, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, calls := faultServer(t, tt.fault, tt.faults, body)
			c := &Client{Entries: []Entry{{URL: s.URL}}, Retries: 2, Timeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
			got, err := c.FetchBytes(context.Background(), "example.com/a/@v/list", Meta, tt.limit)
			switch {
			case tt.wantErr == nil && (err != nil || string(got) != body):
				t.Errorf("FetchBytes = %q, %v; want %q", got, err, body)
			case tt.wantErr == errAny && err == nil:
				t.Errorf("FetchBytes succeeded, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("FetchBytes = %v, want %v", err, tt.wantErr)
			}
			if n := calls.Load(); n != tt.wantCalls {
				t.Errorf("requests = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

var errAny = errors.New("any error")

// TestZipRetryStartsOver checks that a retried zip download leaves only
// the complete answer in the file, not the failed attempt's bytes.
func TestZipRetryStartsOver(t *testing.T) {
	s, _ := faultServer(t, resetAfterHeaders, 1, "PK-complete")
	c := &Client{Entries: []Entry{{URL: s.URL}}}
	f, err := os.Create(filepath.Join(t.TempDir(), "z"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := c.Zip(context.Background(), "example.com/a", "v1.0.0", f)
	if err != nil || n != int64(len("PK-complete")) {
		t.Fatalf("Zip = %d, %v", n, err)
	}
	got, _ := os.ReadFile(f.Name())
	if string(got) != "PK-complete" {
		t.Errorf("file = %q, want only the complete answer", got)
	}
}

// TestRetriesWithinDeadline checks that retries stop at the caller's
// deadline rather than running their full course.
func TestRetriesWithinDeadline(t *testing.T) {
	s, calls := faultServer(t, fault503, 100, "")
	c := &Client{Entries: []Entry{{URL: s.URL}}, Retries: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.FetchBytes(ctx, "x/@v/list", Meta, 1<<10)
	if err == nil {
		t.Fatal("FetchBytes succeeded against a failing upstream")
	}
	// Backoffs are 50ms, 200ms, ...: the deadline ends the second wait.
	if n := calls.Load(); n != 2 {
		t.Errorf("requests = %d, want 2 within the deadline", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("FetchBytes took %v, want it to stop at the 120ms deadline", d)
	}
}

func TestCredentialsRedacted(t *testing.T) {
	s, _ := statusServer(t, 500, "boom")
	u := strings.Replace(s.URL, "http://", "http://user:hunter2@", 1)
	c := &Client{Entries: []Entry{{URL: u}}, Retries: -1}
	_, err := c.FetchBytes(context.Background(), "x/@v/list", Meta, 1<<10)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v leaks the password", err)
	}
}

// TestRedactKeepsPath checks that redaction hides only credentials: a
// checksum database lookup keeps its module@version.
func TestRedactKeepsPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://sum.example/lookup/example.com/a@v0.3.1", "https://sum.example/lookup/example.com/a@v0.3.1"},
		{"https://u:secret@proxy.example/x/@v/list", "https://xxxxx@proxy.example/x/@v/list"},
		{"https://token@proxy.example/lookup/m@v1.0.0", "https://xxxxx@proxy.example/lookup/m@v1.0.0"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFileUpstream(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "example.com", "a", "@v"), 0o755)
	os.WriteFile(filepath.Join(dir, "example.com", "a", "@v", "list"), []byte("v1.0.0\n"), 0o644)
	c := &Client{Entries: []Entry{{URL: "file://" + dir}}}
	b, err := c.List(context.Background(), "example.com/a")
	if err != nil || string(b) != "v1.0.0\n" {
		t.Errorf("file upstream List = %q, %v", b, err)
	}
	if _, err := c.List(context.Background(), "example.com/b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing file = %v, want not found", err)
	}
}

// TestFailuresReleaseSlots checks that failed fetches give their
// concurrency slot back: more failures than slots must not block.
func TestFailuresReleaseSlots(t *testing.T) {
	missing, _ := statusServer(t, 404, "not here")
	broken, _ := statusServer(t, 503, "down")
	for _, s := range []*httptest.Server{missing, broken} {
		c := &Client{Entries: []Entry{{URL: s.URL}}, MaxConcurrent: 2, Retries: -1}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for i := range 10 {
			if _, err := c.List(ctx, "example.com/a"); err == nil || ctx.Err() != nil {
				t.Fatalf("fetch %d from %s: %v (context: %v); a slot leaked", i, s.URL, err, ctx.Err())
			}
		}
		cancel()
	}
}
