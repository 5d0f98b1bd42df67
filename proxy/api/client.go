package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls a modgate server's decision API.
type Client struct {
	// URL is the modgate base URL (what GOPROXY would be set to).
	URL string
	// HTTP is the client; nil means one with a 60s timeout.
	HTTP *http.Client
	// Header is added to every request (for example Authorization).
	Header http.Header
	// Batch bounds modules per decisions request; 0 means 1000.
	Batch int
}

// Error is a decision API call that failed.
type Error struct {
	URL    string
	Status int    // 0 when no response
	Body   string // trimmed response body
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("decision API %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("decision API %s: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Body)
}

func (e *Error) Unwrap() error { return e.Err }

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 60 * time.Second}
}

func (c *Client) endpoint(p string) string {
	return strings.TrimSuffix(c.URL, "/") + "/api/v1/" + p
}

// Decide asks for decisions on mvs for kind ("" means zip), in batches,
// and returns them in order. A version the server could not decide is
// returned with its Error set; callers fail closed on it.
func (c *Client) Decide(ctx context.Context, kind Kind, mvs []ModuleVersion) ([]Decision, error) {
	batch := c.Batch
	if batch <= 0 {
		batch = 1000
	}
	out := make([]Decision, 0, len(mvs))
	for start := 0; start < len(mvs); start += batch {
		part := mvs[start:min(start+batch, len(mvs))]
		var resp DecideResponse
		if err := c.do(ctx, http.MethodPost, c.endpoint("decisions"), DecideRequest{Kind: kind, Modules: part}, &resp); err != nil {
			return nil, err
		}
		if len(resp.Decisions) != len(part) {
			return nil, &Error{URL: c.endpoint("decisions"), Err: fmt.Errorf("got %d decisions for %d modules", len(resp.Decisions), len(part))}
		}
		for i, d := range resp.Decisions {
			if d.Path != part[i].Path || d.Version != part[i].Version {
				return nil, &Error{URL: c.endpoint("decisions"), Err: fmt.Errorf("decision %d is for %s@%s, want %s@%s", i, d.Path, d.Version, part[i].Path, part[i].Version)}
			}
		}
		out = append(out, resp.Decisions...)
	}
	return out, nil
}

// Module returns the server's facts and verdicts for path's versions
// above since ("" for all), decided for kind ("" means zip).
func (c *Client) Module(ctx context.Context, path, since string, kind Kind) (*Module, error) {
	q := url.Values{"path": {path}}
	if since != "" {
		q.Set("since", since)
	}
	if kind != "" {
		q.Set("kind", string(kind))
	}
	var m Module
	if err := c.do(ctx, http.MethodGet, c.endpoint("module")+"?"+q.Encode(), nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func (c *Client) do(ctx context.Context, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return &Error{URL: u, Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return &Error{URL: u, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &Error{URL: u, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &Error{URL: u, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{URL: u, Status: resp.StatusCode, Err: fmt.Errorf("malformed response: %w", err)}
	}
	return nil
}
