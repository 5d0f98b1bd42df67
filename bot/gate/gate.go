// Package gate is the bot's HTTP client for a modgate server: the GOPROXY
// endpoints, which show only the versions the organisation's policy
// allows, and the decision API (POST /api/v1/decisions), which says why a
// version is denied or warned about. The bot never evaluates policy
// itself.
package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Client talks to one modgate server.
type Client struct {
	// URL is the modgate base URL (its GOPROXY value).
	URL string
	// ListURL, if set, is a GOPROXY base URL asked only for @v/list, to
	// learn version names modgate hides, so they can be reported with
	// the decision API's reasons. It is never used to download anything.
	ListURL string
	// HTTP is the client; nil means http.DefaultClient.
	HTTP *http.Client
	// Token, if set, is sent as a bearer token (a modgate behind an
	// authenticating front end).
	Token string
}

// ErrNotFound is returned for a module or version the server does not
// have (or does not let the client see).
var ErrNotFound = errors.New("not found")

// Error is a failed request: the module (and version) and the cause.
type Error struct {
	Path, Version string
	Op            string
	Err           error
}

func (e *Error) Error() string {
	mv := e.Path
	if e.Version != "" {
		mv += "@" + e.Version
	}
	return mv + ": " + e.Op + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) get(ctx context.Context, base, p string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/"+p, nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, firstLine(body))
	default:
		return nil, fmt.Errorf("%s: %s", resp.Status, firstLine(body))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Versions lists the canonical, non-pseudo versions of path that modgate
// serves (the policy-filtered @v/list), sorted ascending. A module the
// server does not know has no versions.
func (c *Client) Versions(ctx context.Context, path string) ([]string, error) {
	return c.versions(ctx, c.URL, path)
}

// AllVersions is [Client.Versions] asked of ListURL, or nil without one.
func (c *Client) AllVersions(ctx context.Context, path string) ([]string, error) {
	if c.ListURL == "" {
		return nil, nil
	}
	return c.versions(ctx, c.ListURL, path)
}

func (c *Client) versions(ctx context.Context, base, path string) ([]string, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return nil, &Error{Path: path, Op: "list", Err: err}
	}
	body, err := c.get(ctx, base, esc+"/@v/list")
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{Path: path, Op: "list", Err: err}
	}
	var vs []string
	for _, v := range strings.Fields(string(body)) {
		if semver.IsValid(v) && module.CanonicalVersion(v) == v && !module.IsPseudoVersion(v) {
			vs = append(vs, v)
		}
	}
	semver.Sort(vs)
	return vs, nil
}

// Info is a version's .info.
type Info struct {
	Version string
	Time    time.Time
}

// Info fetches path@version's .info.
func (c *Client) Info(ctx context.Context, path, version string) (Info, error) {
	var info Info
	body, err := c.artifact(ctx, path, version, ".info")
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, &Error{Path: path, Version: version, Op: "info", Err: err}
	}
	return info, nil
}

// GoMod fetches path@version's go.mod.
func (c *Client) GoMod(ctx context.Context, path, version string) ([]byte, error) {
	return c.artifact(ctx, path, version, ".mod")
}

func (c *Client) artifact(ctx context.Context, path, version, ext string) ([]byte, error) {
	esc, err := module.EscapePath(path)
	if err == nil {
		var ev string
		if ev, err = module.EscapeVersion(version); err == nil {
			var body []byte
			if body, err = c.get(ctx, c.URL, esc+"/@v/"+ev+ext); err == nil {
				return body, nil
			}
		}
	}
	return nil, &Error{Path: path, Version: version, Op: strings.TrimPrefix(ext, "."), Err: err}
}

// Violation is one rule's finding, as the decision API reports it.
type Violation struct {
	Rule string `json:"rule"`
	Msg  string `json:"msg"`
	Fix  string `json:"fix,omitempty"`
}

// Decision is the verdict on one module version.
type Decision struct {
	Path    string      `json:"path"`
	Version string      `json:"version"`
	Allowed bool        `json:"allowed"`
	Deny    []Violation `json:"deny,omitempty"`
	Warn    []Violation `json:"warn,omitempty"`
	Audit   []Violation `json:"audit,omitempty"`
	// Error is set when the server could not decide.
	Error string `json:"error,omitempty"`
}

// Reason summarises why the decision is not a plain allow, or "".
func (d Decision) Reason() string {
	var parts []string
	if d.Error != "" {
		parts = append(parts, "no decision: "+d.Error)
	}
	for _, v := range d.Deny {
		s := v.Rule + ": " + v.Msg
		if v.Fix != "" {
			s += " (" + v.Fix + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// ModuleVersion names a module version.
type ModuleVersion struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

// maxBatch keeps one request under the server's limit.
const maxBatch = 1000

// Decide asks the decision API about mvs for a zip download (what a build
// needs) and returns the decisions in order.
func (c *Client) Decide(ctx context.Context, mvs []ModuleVersion) ([]Decision, error) {
	var out []Decision
	for start := 0; start < len(mvs); start += maxBatch {
		batch := mvs[start:min(start+maxBatch, len(mvs))]
		ds, err := c.decide(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func (c *Client) decide(ctx context.Context, mvs []ModuleVersion) ([]Decision, error) {
	body, err := json.Marshal(struct {
		Kind    string          `json:"kind"`
		Modules []ModuleVersion `json:"modules"`
	}{"zip", mvs})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/api/v1/decisions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("decision API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("decision API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("decision API: %s: %s", resp.Status, firstLine(data))
	}
	var dr struct {
		Decisions []Decision `json:"decisions"`
	}
	if err := json.Unmarshal(data, &dr); err != nil {
		return nil, fmt.Errorf("decision API: malformed response: %w", err)
	}
	if len(dr.Decisions) != len(mvs) {
		return nil, fmt.Errorf("decision API: %d decisions for %d modules", len(dr.Decisions), len(mvs))
	}
	for i, d := range dr.Decisions {
		if d.Path != mvs[i].Path || d.Version != mvs[i].Version {
			return nil, fmt.Errorf("decision API: decision %d is for %s@%s, want %s@%s", i, d.Path, d.Version, mvs[i].Path, mvs[i].Version)
		}
	}
	return dr.Decisions, nil
}
