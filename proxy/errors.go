package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"syscall"

	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/upstream"
)

// DeniedError reports a version the policy denies. For a denied @latest
// (nothing allowed) Version is the one the go command would have picked.
type DeniedError struct {
	Module, Version string
	Kind            Kind
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
	subject := e.Module
	if e.Version != "" {
		subject += "@" + e.Version
	}
	return fmt.Sprintf("%s: policy evaluation failed: %v", subject, e.Err)
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
	status, body := describe(req, err)
	if status >= 500 {
		p.logger().Error("request failed", "path", r.URL.Path, "status", status, "err", err)
	}
	writeText(w, r, status, body)
}

func describe(req Request, err error) (int, string) {
	subject := req.Module
	if req.Version != "" {
		subject += "@" + req.Version
	}
	var (
		de  *DeniedError
		ce  *checksum.Error
		ue  *upstream.Error
		se  *modcache.StorageError
		dce *DecisionError
		re  *modcache.RequestError
	)
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.As(err, &re):
		return http.StatusBadRequest, re.Error()
	case errors.As(err, &de):
		return http.StatusForbidden, deniedBody(de)
	case errors.As(err, &ce):
		return http.StatusBadGateway, ce.Error()
	case errors.Is(err, checksum.ErrDatabase):
		return http.StatusBadGateway, fmt.Sprintf("%s: cannot verify: %v\nmodgate serves nothing it has not verified; retry when the checksum database is reachable.", subject, err)
	case errors.Is(err, modcache.ErrNotCached):
		return http.StatusNotFound, fmt.Sprintf("%s: not found: %v", subject, modcache.ErrNotCached)
	case errors.Is(err, upstream.ErrOff):
		return http.StatusNotFound, fmt.Sprintf("%s: not found: not cached and %v", subject, upstream.ErrOff)
	case errors.Is(err, upstream.ErrNotFound), errors.Is(err, errNoVersion):
		what := "module or version"
		if req.Kind == KindList || req.Kind == KindLatest {
			what = "module"
		}
		return http.StatusNotFound, fmt.Sprintf("%s: not found: the upstream has no such %s", subject, what)
	case errors.As(err, &ue) && ue.Timeout():
		return http.StatusGatewayTimeout, fmt.Sprintf("%s: upstream timed out: %v\nThis is an upstream outage, not a missing module; retry later.", subject, err)
	case errors.As(err, &ue):
		return http.StatusBadGateway, fmt.Sprintf("%s: upstream failed: %v\nThis is an upstream outage, not a missing module; retry later.", subject, err)
	case errors.Is(err, facts.ErrNoVulnDB):
		return http.StatusServiceUnavailable, fmt.Sprintf("%s: %v\nmodgate fails closed until it can check vulnerabilities.", subject, facts.ErrNoVulnDB)
	case errors.As(err, &dce):
		return http.StatusServiceUnavailable, dce.Error() + "\nmodgate fails closed when it cannot evaluate the policy."
	case errors.As(err, &se):
		return storageStatus(subject, se)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, fmt.Sprintf("%s: timed out", subject)
	}
	var fe *modcache.FetchError
	if errors.As(err, &fe) {
		// Invalid or truncated upstream content.
		return http.StatusBadGateway, fmt.Sprintf("%s: bad upstream response: %v", subject, fe.Err)
	}
	return http.StatusInternalServerError, fmt.Sprintf("%s: internal error; see the modgate log", subject)
}

// storageStatus describes a failure of modgate's own storage. The body
// never shows the error itself, which names server paths.
func storageStatus(subject string, se *modcache.StorageError) (int, string) {
	switch {
	case errors.Is(se, syscall.ENOSPC), errors.Is(se, syscall.EDQUOT):
		return http.StatusInsufficientStorage, fmt.Sprintf("%s: modgate's cache storage is full, so it cannot store this download.\nCached modules are still served; the operator must free space (see the modgate log).", subject)
	case errors.Is(se, syscall.ENAMETOOLONG):
		return http.StatusBadRequest, fmt.Sprintf("%s: module path or version too long for modgate's cache storage", subject)
	case errors.Is(se, fs.ErrPermission), errors.Is(se, syscall.EROFS):
		return http.StatusInternalServerError, fmt.Sprintf("%s: modgate's cache storage is not writable (permission denied); see the modgate log", subject)
	}
	return http.StatusInternalServerError, fmt.Sprintf("%s: internal storage error during %s; see the modgate log", subject, se.Op)
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
