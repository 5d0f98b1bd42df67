package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/upstream"
)

// errNotCached means the artifact is not cached and no upstream may be
// asked for it (cache-only mode, or a private module without a private
// upstream).
var errNotCached = fmt.Errorf("not in the cache and no upstream is configured for it: %w", upstream.ErrNotFound)

// FetchError reports a failure to obtain an artifact from upstream.
type FetchError struct {
	Module, Version string
	Kind            Kind
	Err             error
}

func (e *FetchError) Error() string {
	subject := e.Module
	if e.Version != "" {
		subject += "@" + e.Version
	}
	return fmt.Sprintf("%s: %s: %v", subject, e.Kind, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// StorageError reports a failure of the cache storage.
type StorageError struct {
	Op  string
	Err error
}

func (e *StorageError) Error() string { return "storage " + e.Op + ": " + e.Err.Error() }
func (e *StorageError) Unwrap() error { return e.Err }

// DeniedError reports a version the policy denies.
type DeniedError struct {
	Module, Version string
	Decision        Decision
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("%s@%s: denied by policy", e.Module, e.Version)
}

// DecisionError reports that the policy could not decide; the proxy fails
// closed.
type DecisionError struct {
	Module, Version string
	Err             error
}

func (e *DecisionError) Error() string {
	return fmt.Sprintf("%s@%s: policy evaluation failed: %v", e.Module, e.Version, e.Err)
}
func (e *DecisionError) Unwrap() error { return e.Err }

// maxErrorLines bounds error bodies: the go command prints the body as
// "server response:", and long bodies bury the important first line.
const maxErrorLines = 8

// serveError maps err to a status and a short text body. This is the only
// place that decides statuses for failures.
func (p *Proxy) serveError(w http.ResponseWriter, r *http.Request, req Request, err error) {
	if r.Context().Err() != nil {
		return // the client has gone; nobody reads the answer
	}
	status, body := p.describe(req, err)
	if status >= 500 {
		p.logger().Error("request failed", "path", r.URL.Path, "status", status, "err", err)
	}
	writeText(w, r, status, body)
}

func (p *Proxy) describe(req Request, err error) (int, string) {
	subject := req.Module
	if req.Version != "" {
		subject += "@" + req.Version
	}
	var (
		de  *DeniedError
		ce  *checksum.Error
		ue  *upstream.Error
		se  *StorageError
		dce *DecisionError
	)
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.As(err, &de):
		return http.StatusForbidden, deniedBody(de)
	case errors.As(err, &ce):
		return http.StatusBadGateway, ce.Error()
	case errors.Is(err, checksum.ErrDatabase):
		return http.StatusBadGateway, fmt.Sprintf("%s: cannot verify: %v\nmodgate serves nothing it has not verified; retry when the checksum database is reachable.", subject, err)
	case errors.Is(err, errNotCached):
		return http.StatusNotFound, fmt.Sprintf("%s: not found: %v", subject, errNotCached)
	case errors.Is(err, upstream.ErrOff):
		return http.StatusNotFound, fmt.Sprintf("%s: not found: not cached and %v", subject, upstream.ErrOff)
	case errors.Is(err, upstream.ErrNotFound):
		what := "module or version"
		if req.Kind == KindList || req.Kind == KindLatest {
			what = "module"
		}
		return http.StatusNotFound, fmt.Sprintf("%s: not found: the upstream has no such %s", subject, what)
	case errors.As(err, &ue) && ue.Timeout():
		return http.StatusGatewayTimeout, fmt.Sprintf("%s: upstream timed out: %v\nThis is an upstream outage, not a missing module; retry later.", subject, err)
	case errors.As(err, &ue):
		return http.StatusBadGateway, fmt.Sprintf("%s: upstream failed: %v\nThis is an upstream outage, not a missing module; retry later.", subject, err)
	case errors.As(err, &dce):
		return http.StatusServiceUnavailable, dce.Error() + "\nmodgate fails closed when it cannot evaluate the policy."
	case errors.As(err, &se):
		return http.StatusInternalServerError, fmt.Sprintf("%s: internal storage error; see the modgate log", subject)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, fmt.Sprintf("%s: timed out", subject)
	}
	var fe *FetchError
	if errors.As(err, &fe) {
		// Invalid or truncated upstream content.
		return http.StatusBadGateway, fmt.Sprintf("%s: bad upstream response: %v", subject, fe.Err)
	}
	return http.StatusInternalServerError, fmt.Sprintf("%s: internal error; see the modgate log", subject)
}

// deniedBody explains a denial in at most maxErrorLines lines: what, which
// rules and why, and what to do.
func deniedBody(e *DeniedError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s is denied by modgate policy", e.Module, e.Version)
	var fixes []string
	for _, v := range e.Decision.Deny {
		fmt.Fprintf(&b, "\n%s: %s", v.Rule, oneLine(v.Msg))
		if v.Fix != "" {
			fixes = append(fixes, v.Fix)
		}
	}
	for _, f := range fixes {
		b.WriteString("\nfix: " + oneLine(f))
	}
	return b.String()
}

// writeText writes a text/plain error body of at most maxErrorLines lines.
func writeText(w http.ResponseWriter, r *http.Request, status int, body string) {
	lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
	if len(lines) > maxErrorLines {
		lines = append(lines[:maxErrorLines-1], "...")
	}
	for i, l := range lines {
		lines[i] = truncate(l, 400)
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusNotFound || status == http.StatusGone {
		h.Set("Cache-Control", "public, max-age=60")
	} else {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, strings.Join(lines, "\n")+"\n")
	}
}
