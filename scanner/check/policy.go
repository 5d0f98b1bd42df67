package check

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/proxy"
)

// ModuleQuery is one build-list module to judge.
type ModuleQuery struct {
	Path    string
	Version string
	// Time is the version's .info time when the go command reported it.
	Time time.Time
}

// Policy judges a whole build list at once. Implementations must return
// one decision per query, in order; an error means the policy could not be
// applied and the check cannot conclude (exit 2).
type Policy interface {
	Evaluate(ctx context.Context, kind proxy.Kind, mods []ModuleQuery) ([]proxy.Decision, error)
}

// DeciderPolicy applies a [proxy.Decider] in-process (the same engine and
// rules as the proxy), querying in parallel.
type DeciderPolicy struct {
	Decider proxy.Decider
	// Concurrency bounds parallel decisions; 0 means 8.
	Concurrency int
	// Client is reported to the decider as the requester; "" means
	// "modgate check".
	Client string
}

// Evaluate decides every module.
func (p *DeciderPolicy) Evaluate(ctx context.Context, kind proxy.Kind, mods []ModuleQuery) ([]proxy.Decision, error) {
	out := make([]proxy.Decision, len(mods))
	g, ctx := errgroup.WithContext(ctx)
	n := p.Concurrency
	if n <= 0 {
		n = 8
	}
	g.SetLimit(n)
	client := p.Client
	if client == "" {
		client = "modgate check"
	}
	for i, m := range mods {
		g.Go(func() error {
			d, err := p.Decider.Decide(ctx, proxy.Query{Module: m.Path, Version: m.Version, Kind: kind, Time: m.Time, Client: client})
			if err != nil {
				return fmt.Errorf("policy: %s@%s: %w", m.Path, m.Version, err)
			}
			out[i] = d
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// RemotePolicy asks a running modgate for decisions through its decision
// API (POST <URL>/api/v1/decisions), so CI applies the organisation's
// central policy. It also implements [proxy.Decider] for single queries.
type RemotePolicy struct {
	// URL is the modgate base URL (what GOPROXY would be set to).
	URL string
	// Client is the HTTP client; nil means one with a 60s timeout.
	Client *http.Client
	// Header is added to every request (for example Authorization).
	Header http.Header
	// Batch bounds modules per request; 0 means 1000 (the API accepts
	// 5000).
	Batch int
}

// APIError is a decision API call that failed.
type APIError struct {
	URL    string
	Status int    // 0 when no response
	Body   string // trimmed response body
	Err    error
}

func (e *APIError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("decision API %s: %v", e.URL, e.Err)
	}
	return fmt.Sprintf("decision API %s: %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Body)
}

func (e *APIError) Unwrap() error { return e.Err }

// Evaluate posts the modules in batches.
func (p *RemotePolicy) Evaluate(ctx context.Context, kind proxy.Kind, mods []ModuleQuery) ([]proxy.Decision, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = 1000
	}
	out := make([]proxy.Decision, 0, len(mods))
	for start := 0; start < len(mods); start += batch {
		end := min(start+batch, len(mods))
		ds, err := p.post(ctx, kind, mods[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// Decide implements [proxy.Decider].
func (p *RemotePolicy) Decide(ctx context.Context, q proxy.Query) (proxy.Decision, error) {
	ds, err := p.post(ctx, q.Kind, []ModuleQuery{{Path: q.Module, Version: q.Version, Time: q.Time}})
	if err != nil {
		return proxy.Decision{}, err
	}
	return ds[0], nil
}

func (p *RemotePolicy) endpoint() string {
	return strings.TrimSuffix(p.URL, "/") + "/api/v1/decisions"
}

func (p *RemotePolicy) post(ctx context.Context, kind proxy.Kind, mods []ModuleQuery) ([]proxy.Decision, error) {
	url := p.endpoint()
	req := proxy.DecisionRequest{Kind: kind, Modules: make([]proxy.ModuleVersion, len(mods))}
	for i, m := range mods {
		req.Modules[i] = proxy.ModuleVersion{Path: m.Path, Version: m.Version}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &APIError{URL: url, Err: err}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	for k, vs := range p.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := client.Do(hr)
	if err != nil {
		return nil, &APIError{URL: url, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &APIError{URL: url, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &APIError{URL: url, Status: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	var dr proxy.DecisionResponse
	if err := json.Unmarshal(data, &dr); err != nil {
		return nil, &APIError{URL: url, Status: resp.StatusCode, Err: fmt.Errorf("malformed response: %w", err)}
	}
	if len(dr.Decisions) != len(mods) {
		return nil, &APIError{URL: url, Status: resp.StatusCode, Err: fmt.Errorf("got %d decisions for %d modules", len(dr.Decisions), len(mods))}
	}
	out := make([]proxy.Decision, len(mods))
	for i, d := range dr.Decisions {
		if d.Path != mods[i].Path || d.Version != mods[i].Version {
			return nil, &APIError{URL: url, Status: resp.StatusCode, Err: fmt.Errorf("decision %d is for %s@%s, want %s@%s", i, d.Path, d.Version, mods[i].Path, mods[i].Version)}
		}
		if d.Error != "" {
			// Fail closed: a module the proxy could not judge is not
			// a pass.
			return nil, fmt.Errorf("policy: %s@%s: %s", d.Path, d.Version, d.Error)
		}
		out[i] = proxy.Decision{Deny: d.Deny, Warn: d.Warn, Audit: d.Audit}
	}
	return out, nil
}
