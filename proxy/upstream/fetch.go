package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Size limits of protocol answers, from the go command's own.
const (
	maxZip  = modzip.MaxZipFile // 500 MiB
	maxMod  = modzip.MaxGoMod   // 16 MiB
	maxInfo = 1 << 20
	maxList = 16 << 20
)

// Sink receives one download. Reset discards what a failed attempt wrote,
// so that the next attempt starts over.
type Sink interface {
	io.Writer
	Reset() error
}

// ErrTooLarge is wrapped by errors for answers above their size limit.
var ErrTooLarge = errors.New("upstream answer too large")

// Fetch downloads the escaped protocol path rel through the list into
// sink and returns the bytes of the attempt that succeeded. Every failure
// short of an answer — a connection error, a 5xx, a timeout, and after the
// headers a reset, stalled or truncated body — is retried with backoff, up
// to Retries times per upstream and within ctx's deadline; each retry
// starts over after sink.Reset. Not-found answers and answers above limit
// are not retried.
func (c *Client) Fetch(ctx context.Context, rel string, class Class, limit int64, sink Sink) (int64, error) {
	c.init()
	var last error
	for i, e := range c.Entries {
		switch e.URL {
		case "off":
			return 0, cmpErr(last, ErrOff)
		case "direct":
			return 0, cmpErr(last, &Error{URL: "direct", Status: 404, Err: errors.New("direct is not supported by modgate")})
		}
		n, err := c.fetchEntry(ctx, i, rel, class, limit, sink)
		if err == nil {
			return n, nil
		}
		last = err
		var ue *Error
		if ctx.Err() != nil || !errors.As(err, &ue) {
			return 0, err // cancelled, or the sink failed
		}
		if ue.NotFound() || e.FallbackOnError {
			if rerr := sink.Reset(); rerr != nil {
				return 0, rerr
			}
			continue
		}
		return 0, err
	}
	return 0, last
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// fetchEntry fetches from one upstream, retrying transient failures.
func (c *Client) fetchEntry(ctx context.Context, i int, rel string, class Class, limit int64, sink Sink) (int64, error) {
	retries := c.Retries
	if retries == 0 {
		retries = 2
	}
	for attempt := 0; ; attempt++ {
		n, err := c.fetchOnce(ctx, i, rel, class, limit, sink)
		if err == nil || !retryable(err) || attempt >= max(retries, 0) || ctx.Err() != nil {
			return n, err
		}
		backoff := time.Duration(50<<(2*attempt)) * time.Millisecond // 50ms, 200ms, 800ms
		c.logger().Warn("upstream fetch failed, retrying", "err", err, "attempt", attempt+1, "backoff", backoff)
		if rerr := sink.Reset(); rerr != nil {
			return 0, rerr
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return 0, &Error{URL: redact(c.Entries[i].URL + "/" + rel), Err: ctx.Err()}
		}
	}
}

// retryable reports whether an attempt failed short of an answer: not a
// not-found or other 4xx, and not an answer above its limit.
func retryable(err error) bool {
	var ue *Error
	if errors.Is(err, ErrTooLarge) || !errors.As(err, &ue) {
		return false
	}
	return ue.Status == 0 || ue.Status >= 500
}

// fetchOnce is one attempt: the request and the whole body.
func (c *Client) fetchOnce(ctx context.Context, i int, rel string, class Class, limit int64, sink Sink) (int64, error) {
	base := c.Entries[i].URL
	var resp *response
	var err error
	if len(base) >= 5 && base[:5] == "file:" {
		resp, err = getFile(base, rel)
	} else {
		resp, err = c.getHTTP(ctx, i, rel, class)
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sw := &sinkWriter{w: sink}
	n, err := io.Copy(sw, io.LimitReader(resp.Body, limit+1))
	switch {
	case sw.err != nil:
		// The destination failed (a full disk): not the upstream's
		// fault, and retrying would fail alike.
		return n, sw.err
	case err != nil:
		var ue *Error
		if errors.As(err, &ue) {
			return n, err
		}
		return n, &Error{URL: resp.URL, Err: fmt.Errorf("download interrupted after %d bytes: %w", n, err)}
	case n > limit:
		return n, &Error{URL: resp.URL, Status: 200, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
	case resp.Size >= 0 && n != resp.Size:
		return n, &Error{URL: resp.URL, Err: fmt.Errorf("truncated download: got %d of %d bytes", n, resp.Size)}
	}
	return n, nil
}

// getHTTP sends one request to an http(s) upstream within its
// concurrency bound; the slot is released when the body is closed.
func (c *Client) getHTTP(ctx context.Context, i int, rel string, class Class) (*response, error) {
	base := c.Entries[i].URL
	sem := c.sems[i][class]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &Error{URL: redact(base + "/" + rel), Err: ctx.Err()}
	}
	resp, err := c.do(ctx, base+"/"+rel, class, func() { <-sem })
	if err != nil {
		<-sem // do releases the slot only with a body it returns
	}
	return resp, err
}

// sinkWriter remembers the sink's own write error, to tell it from a
// failure reading the body.
type sinkWriter struct {
	w   io.Writer
	err error
}

func (s *sinkWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// buffer is a Sink collecting an answer in memory.
type buffer struct{ bytes.Buffer }

func (b *buffer) Reset() error { b.Buffer.Reset(); return nil }

// FetchBytes is [Client.Fetch] into memory.
func (c *Client) FetchBytes(ctx context.Context, rel string, class Class, limit int64) ([]byte, error) {
	var b buffer
	if _, err := c.Fetch(ctx, rel, class, limit, &b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fileSink is a Sink writing to a file from its start.
type fileSink struct{ f *os.File }

func (s fileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s fileSink) Reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	_, err := s.f.Seek(0, io.SeekStart)
	return err
}

// escape returns the escaped path and version for protocol paths.
func escape(mod, version string) (string, string, error) {
	ep, err := module.EscapePath(mod)
	if err != nil {
		return "", "", err
	}
	if version == "" {
		return ep, "", nil
	}
	ev, err := module.EscapeVersion(version)
	return ep, ev, err
}

// The go command's operations, as a module source (see modcache.Source).

// List returns mod's @v/list.
func (c *Client) List(ctx context.Context, mod string) ([]byte, error) {
	ep, _, err := escape(mod, "")
	if err != nil {
		return nil, err
	}
	return c.FetchBytes(ctx, ep+"/@v/list", Meta, maxList)
}

// Latest returns mod's @latest .info.
func (c *Client) Latest(ctx context.Context, mod string) ([]byte, error) {
	ep, _, err := escape(mod, "")
	if err != nil {
		return nil, err
	}
	return c.FetchBytes(ctx, ep+"/@latest", Meta, maxInfo)
}

// Info returns the .info of mod@version; version may be a query (a branch
// or commit), which the upstream resolves.
func (c *Client) Info(ctx context.Context, mod, version string) ([]byte, error) {
	ep, ev, err := escape(mod, version)
	if err != nil {
		return nil, err
	}
	return c.FetchBytes(ctx, ep+"/@v/"+ev+".info", Meta, maxInfo)
}

// GoMod returns the .mod of mod@version.
func (c *Client) GoMod(ctx context.Context, mod, version string) ([]byte, error) {
	ep, ev, err := escape(mod, version)
	if err != nil {
		return nil, err
	}
	return c.FetchBytes(ctx, ep+"/@v/"+ev+".mod", Meta, maxMod)
}

// Zip writes the .zip of mod@version to dst from its start, and returns
// its size.
func (c *Client) Zip(ctx context.Context, mod, version string, dst *os.File) (int64, error) {
	ep, ev, err := escape(mod, version)
	if err != nil {
		return 0, err
	}
	return c.Fetch(ctx, ep+"/@v/"+ev+".zip", Zip, maxZip, fileSink{dst})
}
