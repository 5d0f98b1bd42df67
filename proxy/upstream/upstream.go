// Package upstream owns modgate's client for upstream module proxies: it
// parses a GOPROXY-style list with the go command's semantics and fetches
// protocol paths through it with connection reuse, timeouts, retries of
// transient failures, and bounded concurrency per upstream.
//
// List semantics ("go help goproxy"): entries are separated by "," or "|".
// After an entry followed by ",", the next entry is tried only when the
// entry answered 404 or 410; after "|", on any error. "off" disallows
// lookups. "direct" (fetching from version control) is not supported by
// modgate: reaching it ends the list with the previous not-found answer,
// and [Client.Check] reports it so operators see it at start-up.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Class separates requests so that metadata lookups never queue behind
// slow zip downloads.
type Class int

const (
	Meta Class = iota // list, info, mod, latest, sumdb
	Zip               // module zips
)

// Entry is one element of a GOPROXY list.
type Entry struct {
	// URL is the proxy base URL, or "off" or "direct".
	URL string
	// FallbackOnError is true when the entry was followed by "|": any
	// error falls through to the next entry, not only 404/410.
	FallbackOnError bool
}

// ParseList parses a GOPROXY-style list.
func ParseList(list string) ([]Entry, error) {
	var entries []Entry
	for list != "" {
		i := strings.IndexAny(list, ",|")
		var elem string
		var pipe bool
		if i < 0 {
			elem, list = list, ""
		} else {
			elem, pipe, list = list[:i], list[i] == '|', list[i+1:]
		}
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		switch elem {
		case "off", "direct":
		default:
			u, err := url.Parse(elem)
			if err != nil {
				return nil, fmt.Errorf("upstream list: invalid proxy URL: %w", err)
			}
			switch u.Scheme {
			case "http", "https", "file":
			case "":
				return nil, fmt.Errorf("upstream list: proxy URL %q has no scheme", redact(elem))
			default:
				return nil, fmt.Errorf("upstream list: proxy URL %q: unsupported scheme %q", redact(elem), u.Scheme)
			}
			elem = strings.TrimSuffix(elem, "/")
		}
		entries = append(entries, Entry{URL: elem, FallbackOnError: pipe})
	}
	if len(entries) == 0 {
		return nil, errors.New("upstream list is empty")
	}
	return entries, nil
}

// Error is a failed upstream fetch.
type Error struct {
	URL    string // redacted
	Status int    // HTTP status, 0 when no response was received
	Body   string // first line of the upstream's error body, if any
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// NotFound reports whether the upstream said the file does not exist.
func (e *Error) NotFound() bool {
	return e.Status == http.StatusNotFound || e.Status == http.StatusGone
}

// Timeout reports whether the fetch failed by timing out.
func (e *Error) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, errIdle) || (errors.As(e.Err, &ne) && ne.Timeout())
}

// Is makes not-found errors match [ErrNotFound].
func (e *Error) Is(target error) bool { return target == ErrNotFound && e.NotFound() }

var (
	// ErrNotFound is matched by errors for files every upstream lacks.
	ErrNotFound = errors.New("not found upstream")
	// ErrOff is returned when the list allows no lookups.
	ErrOff  = errors.New("module lookups disabled by upstream list \"off\"")
	errIdle = errors.New("upstream stopped sending data")
)

// Client fetches protocol paths through an upstream list. The zero value is
// not usable; set List (or Entries). Fields must not change after first use.
type Client struct {
	// Entries is the parsed upstream list.
	Entries []Entry
	// HTTP is the client used for http(s) upstreams. Nil means a client
	// with a transport tuned for many concurrent fetches to few hosts.
	HTTP *http.Client
	// Timeout bounds the wait for response headers and, for metadata,
	// the whole fetch. Zero means 30s.
	Timeout time.Duration
	// IdleTimeout aborts a body that delivers no data for this long.
	// Zero means 60s.
	IdleTimeout time.Duration
	// MaxConcurrent bounds in-flight requests per upstream and class.
	// Zero means 32.
	MaxConcurrent int
	// Retries is how many times a transient failure is retried per
	// upstream: a 5xx, a connection error or timeout, and a reset,
	// stalled or truncated body. Zero means 2; negative means none.
	Retries int
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger

	once sync.Once
	http *http.Client
	// sems holds one semaphore per entry and class; built once.
	sems [][2]chan struct{}
}

func (c *Client) init() {
	c.once.Do(func() {
		c.http = c.HTTP
		if c.http == nil {
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConns = 256
			t.MaxIdleConnsPerHost = 64
			t.ResponseHeaderTimeout = c.timeout()
			// The proxy protocol serves already-compressed zips; asking for
			// gzip would only cost CPU on both ends for small metadata.
			t.DisableCompression = true
			c.http = &http.Client{Transport: t}
		}
		n := c.MaxConcurrent
		if n <= 0 {
			n = 32
		}
		c.sems = make([][2]chan struct{}, len(c.Entries))
		for i := range c.sems {
			c.sems[i] = [2]chan struct{}{make(chan struct{}, n), make(chan struct{}, n)}
		}
	})
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 30 * time.Second
}

func (c *Client) idle() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return 60 * time.Second
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Check reports problems with the list that do not prevent use, such as
// a "direct" entry, which modgate does not support.
func (c *Client) Check() []string {
	var warnings []string
	for _, e := range c.Entries {
		if e.URL == "direct" {
			warnings = append(warnings, `upstream list contains "direct", which modgate does not support: fetching from version control is skipped and a miss on the previous proxies is reported as not found`)
		}
	}
	return warnings
}

// response is a successful upstream answer. The caller must close Body.
type response struct {
	Body io.ReadCloser
	// Size is the Content-Length, or -1 when unknown.
	Size int64
	// URL is the redacted URL that answered.
	URL string
}

func (c *Client) do(ctx context.Context, rawURL string, class Class, release func()) (*response, error) {
	ctx, cancel := context.WithCancel(ctx)
	if class == Meta {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, c.timeout())
		prev := cancel
		cancel = func() { c2(); prev() }
	}
	fail := func(status int, body string, err error) (*response, error) {
		cancel()
		return nil, &Error{URL: redact(rawURL), Status: status, Body: body, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail(0, "", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// Drop the URL the http package puts in its error: it may carry
		// credentials and is already in Error.URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(0, "", err)
	}
	if resp.StatusCode != http.StatusOK {
		line, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		first, _, _ := strings.Cut(strings.TrimSpace(string(line)), "\n")
		return fail(resp.StatusCode, first, nil)
	}
	body := &idleBody{rc: resp.Body, cancel: cancel, release: release, url: redact(rawURL), timeout: c.idle()}
	body.timer = time.AfterFunc(body.timeout, body.expire)
	return &response{Body: body, Size: resp.ContentLength, URL: redact(rawURL)}, nil
}

// idleBody aborts the request when no data arrives for the idle timeout,
// and releases the concurrency slot when closed.
type idleBody struct {
	rc      io.ReadCloser
	cancel  context.CancelFunc
	release func()
	url     string
	timer   *time.Timer
	timeout time.Duration
	expired bool
	mu      sync.Mutex // protects expired
	closed  sync.Once
}

func (b *idleBody) expire() {
	b.mu.Lock()
	b.expired = true
	b.mu.Unlock()
	b.cancel()
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.timeout)
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		expired := b.expired
		b.mu.Unlock()
		if expired {
			err = errIdle
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return n, &Error{URL: b.url, Err: err}
	}
	return n, err
}

func (b *idleBody) Close() error {
	var err error
	b.closed.Do(func() {
		b.timer.Stop()
		err = b.rc.Close()
		b.cancel()
		b.release()
	})
	return err
}

func getFile(base, rel string) (*response, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, &Error{URL: base, Err: err}
	}
	p := filepath.Join(filepath.FromSlash(u.Path), filepath.FromSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{URL: base + "/" + rel, Status: http.StatusNotFound}
		}
		return nil, &Error{URL: base + "/" + rel, Err: err}
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, &Error{URL: base + "/" + rel, Status: http.StatusNotFound}
	}
	return &response{Body: f, Size: fi.Size(), URL: base + "/" + rel}, nil
}

// redact removes credentials from a URL so it can be logged and shown.
// The whole user information goes, not only a password: tokens are often
// given as the user name.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

// Redact removes credentials from a URL so it can be logged and shown.
func Redact(raw string) string { return redact(raw) }
