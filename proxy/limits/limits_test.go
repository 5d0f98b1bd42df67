package limits

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve starts a real server with c's limits around h.
func serve(t *testing.T, c Config, h http.Handler) *httptest.Server {
	t.Helper()
	hs := c.Server(c.Handler(h), slog.New(slog.NewTextHandler(io.Discard, nil)))
	s := httptest.NewUnstartedServer(hs.Handler)
	s.Config = hs
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// fast is a configuration with timeouts short enough for tests.
func fast() Config {
	return Config{ReadHeaderTimeout: 200 * time.Millisecond, BodyTimeout: 200 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, QueueTimeout: 100 * time.Millisecond}
}

// closedWithin reports whether the server closes conn within d.
func closedWithin(conn net.Conn, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	return err == nil // EOF: the server closed it; a timeout is an error
}

func TestSlowRequestsAreDropped(t *testing.T) {
	s := serve(t, fast(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	tests := []struct {
		name string
		send string
	}{
		{"headers never finish", "GET /x HTTP/1.1\r\nHost: a\r\nX-Slow: "},
		{"body never arrives", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly a part"},
		{"GET announcing a body that never comes", "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, tt.send)
			if !closedWithin(conn, 3*time.Second) {
				t.Errorf("connection still open 3s after a stalled request; the limit is 200ms")
			}
		})
	}
}

// TestStalledReaderDropped checks the per-write deadline: a client that
// stops reading a large answer is dropped.
func TestStalledReaderDropped(t *testing.T) {
	werr := make(chan error, 1)
	s := serve(t, fast(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(w, io.LimitReader(zeros{}, 256<<20))
		werr <- err
	}))
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case err := <-werr:
		if err == nil {
			t.Error("256 MiB written to a client that reads nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writer still blocked 10s after the client stopped reading; write_timeout is 300ms")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestSlowSteadyReaderCompletes checks that there is no total deadline:
// a file answer that takes several write timeouts to read completes
// while each part is read in time.
func TestSlowSteadyReaderCompletes(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16) // 4 MiB
	s := serve(t, fast(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "z.zip", time.Time{}, bytes.NewReader(data))
	}))
	resp, err := http.Get(s.URL + "/z.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 512<<10)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read %d of %d bytes", got.Len(), len(data))
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("read took %v; the test needs it to outlast the 300ms write timeout", d)
	}
}

// TestBodyDeadlineLiftedAfterBody checks that a request whose body was
// read in time may take longer than the body timeout to answer.
func TestBodyDeadlineLiftedAfterBody(t *testing.T) {
	s := serve(t, fast(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
			http.Error(w, "cancelled", 500)
			return
		}
		w.Write(b)
	}))
	resp, err := http.Post(s.URL+"/api", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "payload" {
		t.Errorf("POST answered after the body timeout = %d %q, want 200 payload", resp.StatusCode, b)
	}
}

func TestRequestSizeLimits(t *testing.T) {
	c := fast()
	c.MaxURLBytes, c.MaxHeaderBytes = 100, 4<<10
	s := serve(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	tests := []struct {
		name   string
		url    string
		header string
		status int
	}{
		{"short URL", "/" + strings.Repeat("a", 50), "", 200},
		{"long URL", "/" + strings.Repeat("a", 200), "", http.StatusRequestURITooLong},
		{"large headers", "/a", strings.Repeat("b", 8<<10), http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", s.URL+tt.url, nil)
		if tt.header != "" {
			req.Header.Set("X-Big", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
}

// TestPerClientConcurrency checks that a client over its limit waits,
// then gets 429 with Retry-After, while other clients (told apart
// through a trusted proxy's X-Forwarded-For) are unaffected.
func TestPerClientConcurrency(t *testing.T) {
	c := fast()
	c.MaxPerClient = 2
	c.TrustedProxies = []string{"127.0.0.1", "::1/128"}
	release := make(chan struct{})
	s := serve(t, c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	get := func(path, client string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("X-Forwarded-For", client)
		return http.DefaultClient.Do(req)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := get("/block", "192.0.2.1"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	waitFor(t, func() bool { return inFlight(s, c) })
	resp, err := get("/x", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "192.0.2.1") {
		t.Errorf("third request from one client = %d %q (Retry-After %q), want 429 naming the client", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if resp, err := get("/x", "198.51.100.7"); err != nil || resp.StatusCode != 200 {
		t.Errorf("another client behind the same proxy = %v %v, want 200", resp.StatusCode, err)
	}
	close(release)
	wg.Wait()
	if resp, err := get("/x", "192.0.2.1"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the client after its requests ended = %v %v, want 200", resp.StatusCode, err)
	}
}

// inFlight probes whether the limit is reached, using a request that
// would be counted against a fresh address otherwise.
func inFlight(s *httptest.Server, c Config) bool {
	conn, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		return false
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.1\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusTooManyRequests
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not reached in 5s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestClientAddr(t *testing.T) {
	nets, err := parseNets([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},              // untrusted peer: its header is ignored
		{"127.0.0.1:1234", "1.2.3.4", "1.2.3.4"},                    // trusted peer
		{"127.0.0.1:1234", "6.6.6.6, 1.2.3.4, 10.1.1.1", "1.2.3.4"}, // nearest untrusted hop
		{"127.0.0.1:1234", "", "127.0.0.1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := clientAddr(r, nets); got != tt.want {
			t.Errorf("clientAddr(%s, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	c := Config{WriteTimeout: -1, TrustedProxies: []string{"not-an-ip"}}
	err := c.Validate()
	for _, want := range []string{"write_timeout", "trusted_proxies", "not-an-ip"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("Defaults().Validate() = %v", err)
	}
}
