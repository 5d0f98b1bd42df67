package proxy

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy/internal/modpath"
)

// Request is a parsed module proxy request, in decoded form.
type Request struct {
	Module string // decoded module path
	// Version is the decoded version for info, mod and zip requests;
	// empty for list and latest. For info it may be a non-canonical query
	// (a branch name or commit prefix); for mod and zip it is canonical.
	Version string
	Kind    Kind
}

// Canonical reports whether r names a canonical version.
func (r Request) Canonical() bool {
	return r.Version != "" && module.CanonicalVersion(r.Version) == r.Version
}

func (r Request) String() string {
	switch r.Kind {
	case KindList:
		return r.Module + "/@v/list"
	case KindLatest:
		return r.Module + "/@latest"
	}
	return r.Module + "@" + r.Version + " (" + string(r.Kind) + ")"
}

// ErrBadRequest is matched (errors.Is) by every error [ParseRequest] returns.
var ErrBadRequest = errors.New("bad request")

// RequestError reports a malformed proxy request path.
type RequestError struct {
	Path string // the request path, as received
	Err  error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("invalid request %q: %v", truncate(e.Path, 200), e.Err)
}
func (e *RequestError) Unwrap() error        { return e.Err }
func (e *RequestError) Is(target error) bool { return target == ErrBadRequest }

// maxPathLen bounds the request path; module paths are far shorter in
// practice and unbounded paths only serve to exhaust memory or file names.
const maxPathLen = 1024

// ParseRequest parses the path of a module proxy request (without any
// configured prefix), such as "/example.com/!foo/@v/v1.0.0.zip". Escaped
// paths and versions are decoded with golang.org/x/mod/module; versions of
// mod and zip requests must be canonical and valid for the module path.
func ParseRequest(path string) (req Request, err error) {
	return parseRequest(path, nil)
}

// parseRequest is ParseRequest; checks, if not nil, remembers paths that
// passed module.CheckPath.
func parseRequest(path string, checks *modpath.Checks) (req Request, err error) {
	orig := path
	defer func() {
		if err != nil {
			err = &RequestError{Path: orig, Err: err}
		}
	}()
	if len(path) > maxPathLen {
		return Request{}, fmt.Errorf("path longer than %d bytes", maxPathLen)
	}
	if !strings.HasPrefix(path, "/") {
		return Request{}, errors.New("path must start with /")
	}
	path = path[1:]
	var escMod, rest string
	if m, ok := strings.CutSuffix(path, "/@latest"); ok {
		escMod, req.Kind = m, KindLatest
	} else if i := strings.LastIndex(path, "/@v/"); i >= 0 {
		escMod, rest = path[:i], path[i+len("/@v/"):]
	} else {
		return Request{}, errors.New("not a module proxy path (want $module/@v/... or $module/@latest)")
	}
	if checks == nil {
		checks = new(modpath.Checks)
	}
	mod, err := checks.UnescapePath(escMod)
	if err == nil {
		err = modpath.CheckLengths(escMod, "")
	}
	if err != nil {
		return Request{}, err
	}
	if req.Kind == KindLatest {
		req.Module = mod
		return req, nil
	}
	if rest == "list" {
		req.Module, req.Kind = mod, KindList
		return req, nil
	}
	var escVer string
	switch {
	case strings.HasSuffix(rest, ".info"):
		escVer, req.Kind = strings.TrimSuffix(rest, ".info"), KindInfo
	case strings.HasSuffix(rest, ".mod"):
		escVer, req.Kind = strings.TrimSuffix(rest, ".mod"), KindMod
	case strings.HasSuffix(rest, ".zip"):
		escVer, req.Kind = strings.TrimSuffix(rest, ".zip"), KindZip
	default:
		return Request{}, fmt.Errorf("unknown file %q (want list, .info, .mod or .zip)", truncate(rest, 100))
	}
	if err := modpath.CheckLengths("", escVer); err != nil {
		return Request{}, err
	}
	ver, err := modpath.UnescapeVersion(escVer)
	if err != nil {
		return Request{}, err
	}
	if err := checkQuery(ver); err != nil {
		return Request{}, err
	}
	req.Module, req.Version = mod, ver
	if req.Kind == KindInfo && !req.Canonical() {
		return req, nil // a query such as a branch name, resolved upstream
	}
	if !req.Canonical() {
		return Request{}, fmt.Errorf("version %q is not canonical (want %q)", ver, module.CanonicalVersion(ver))
	}
	// module.Check without its second CheckPath: unescaping checked the
	// path already, and CheckPath dominates the cost of a cache hit.
	_, pathMajor, _ := module.SplitPathVersion(mod)
	if err := module.CheckPathMajor(ver, pathMajor); err != nil {
		return Request{}, &module.ModuleError{Path: mod, Err: err}
	}
	return req, nil
}

// checkQuery rejects version strings that no branch, tag or version could
// have and that would be dangerous in file names or URLs.
func checkQuery(v string) error {
	if v == "" {
		return errors.New("empty version")
	}
	if v[0] == '.' || v[0] == '-' {
		return fmt.Errorf("malformed version %q", truncate(v, 100))
	}
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == '+', c == '~':
		default:
			return fmt.Errorf("malformed version %q: character %q not allowed", truncate(v, 100), c)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
