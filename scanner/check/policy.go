package check

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/api"
)

// ModuleQuery is one build-list module to judge.
type ModuleQuery struct {
	Path    string
	Version string
}

// Policy judges a whole build list at once. Implementations must return
// one decision per query, in order; an error means the policy could not be
// applied and the check cannot conclude (exit 2). Every fact a decision
// needs (times, retractions, vulnerabilities) comes from the policy's own
// facts service, never from the caller, so the check gets the verdict the
// proxy would give.
type Policy interface {
	Evaluate(ctx context.Context, kind proxy.Kind, mods []ModuleQuery) ([]proxy.Decision, error)
}

// DeciderPolicy applies a [proxy.Decider] in-process (the same engine,
// rules and facts service as the proxy), querying in parallel.
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
			d, err := p.Decider.Decide(ctx, proxy.Query{Module: m.Path, Version: m.Version, Kind: kind, Client: proxy.Client{Name: client}})
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
// API, so CI applies the organisation's central policy.
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

// Evaluate posts the modules in batches. A module the server could not
// judge fails the evaluation: it is not a pass.
func (p *RemotePolicy) Evaluate(ctx context.Context, kind proxy.Kind, mods []ModuleQuery) ([]proxy.Decision, error) {
	c := &api.Client{URL: p.URL, HTTP: p.Client, Header: p.Header, Batch: p.Batch}
	mvs := make([]api.ModuleVersion, len(mods))
	for i, m := range mods {
		mvs[i] = api.ModuleVersion{Path: m.Path, Version: m.Version}
	}
	ds, err := c.Decide(ctx, kind, mvs)
	if err != nil {
		return nil, err
	}
	out := make([]proxy.Decision, len(ds))
	for i, d := range ds {
		if d.Error != "" {
			return nil, fmt.Errorf("policy: %s@%s: %s", d.Path, d.Version, d.Error)
		}
		out[i] = d.Verdict()
	}
	return out, nil
}
