package proxy

import (
	"cmp"
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
)

// Kind is the kind of file a request asks for; for a version considered
// while filtering a list or resolving @latest it is KindList or KindLatest.
type Kind = modcache.Kind

// The file kinds of the module proxy protocol.
const (
	KindList   = modcache.KindList   // $module/@v/list
	KindInfo   = modcache.KindInfo   // $module/@v/$version.info
	KindMod    = modcache.KindMod    // $module/@v/$version.mod
	KindZip    = modcache.KindZip    // $module/@v/$version.zip
	KindLatest = modcache.KindLatest // $module/@latest
)

// Client identifies who is asking.
type Client struct {
	// Name is the authenticated identity, "" when unknown.
	Name string `json:"name,omitempty"`
	// Addr is the remote address the request came from, without port.
	Addr string `json:"addr,omitempty"`
}

// ID is the client's identity for logs: its name, else its address.
func (c Client) ID() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Addr
}

// Query is what the proxy asks a [Decider] about.
type Query struct {
	Module string // decoded module path
	// Version is the canonical version (empty for List and Latest).
	Version string
	// Kind is the file the client asked for: info, mod or zip for
	// Decide; list or latest for List and Latest.
	Kind   Kind
	Client Client
}

// Decision is a [Decider]'s verdict on one version.
type Decision struct {
	// Deny lists the violations that deny the version. An empty Deny
	// means the version may be served.
	Deny []Violation `json:"deny,omitempty"`
	// Warn lists violations that do not block; the proxy reports them in
	// a response header and the log.
	Warn []Violation `json:"warn,omitempty"`
	// Audit lists violations that would deny the version in enforce mode
	// but were downgraded because their rule runs in audit mode.
	Audit []Violation `json:"audit,omitempty"`
	// Suggest is the nearest version the policy allows (a tag when one
	// exists), for the copy-paste fix of a denial; "" when none is known.
	Suggest string `json:"suggest,omitempty"`
}

// Allowed reports whether the decision lets the version through.
func (d Decision) Allowed() bool { return len(d.Deny) == 0 }

// Violation is one rule's finding.
type Violation struct {
	Rule string `json:"rule"`
	Msg  string `json:"msg"`
	// Fix is a short hint the client can act on (a fixed version, a
	// recommended replacement, how to request a waiver). Optional.
	Fix string `json:"fix,omitempty"`
	// IDs are the vulnerability IDs a finding is about, when it is.
	IDs []string `json:"ids,omitempty"`
}

// Listing is the outcome of filtering a module's list.
type Listing struct {
	// Allowed are the versions the client may see, ascending.
	Allowed []string
	// Verdicts are the decisions on every listed version, ascending.
	Verdicts []Verdict
}

// Verdict is a decision about one version.
type Verdict struct {
	Version  string
	Decision Decision
}

// Pick is the outcome of resolving @latest.
type Pick struct {
	// Version is the newest version the client may have, "" when none.
	Version string
	// Decision is the decision on Version (its warnings), or, when
	// Version is "", on the version the go command would have picked.
	Decision Decision
	// Unfiltered is the version the go command would have picked with no
	// policy; "" when the module has no version.
	Unfiltered string
	// Tried are the candidates decided, newest first (the last one is
	// Version when it is set).
	Tried []Verdict
}

// Decider gates every version the proxy serves, lists or resolves.
// Implementations must be safe for concurrent use. An error means no
// decision could be made; the proxy then fails closed with a 5xx.
type Decider interface {
	// Decide decides q.Module@q.Version for a request of q.Kind.
	Decide(ctx context.Context, q Query) (Decision, error)
	// List filters the module's listed versions for q.Client.
	List(ctx context.Context, q Query) (Listing, error)
	// Latest resolves q.Module@latest for q.Client.
	Latest(ctx context.Context, q Query) (Pick, error)
}

// DecideFunc decides one version.
type DecideFunc func(ctx context.Context, q Query) (Decision, error)

// Filter is a [Decider] built from a per-version decision and the facts
// service: a list keeps the listed versions Func allows (asked with kind
// list), and @latest is the go command's choice among the candidates Func
// allows (asked with kind latest, newest first, stopping at the first
// allowed). With a nil Func every version is allowed, which is the
// proxy's behaviour without a policy.
type Filter struct {
	Facts *facts.Service
	Func  DecideFunc
	// Concurrency bounds the list candidates decided at once (an
	// uncached one may need upstream round trips); 0 means 8.
	Concurrency int
}

// Decide asks Func.
func (f Filter) Decide(ctx context.Context, q Query) (Decision, error) {
	if f.Func == nil {
		return Decision{}, nil
	}
	return f.Func(ctx, q)
}

// List decides every listed version.
func (f Filter) List(ctx context.Context, q Query) (Listing, error) {
	m, err := f.Facts.Module(ctx, q.Module)
	if err != nil {
		return Listing{}, err
	}
	l := Listing{Verdicts: make([]Verdict, len(m.Versions))}
	if f.Func == nil {
		for i, v := range m.Versions {
			l.Verdicts[i].Version = v
		}
		l.Allowed = m.Versions
		return l, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(f.Concurrency, 8))
	for i, v := range m.Versions {
		g.Go(func() error {
			d, err := f.Func(gctx, Query{Module: q.Module, Version: v, Kind: KindList, Client: q.Client})
			l.Verdicts[i] = Verdict{Version: v, Decision: d}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Listing{}, err
	}
	for _, v := range l.Verdicts {
		if v.Decision.Allowed() {
			l.Allowed = append(l.Allowed, v.Version)
		}
	}
	return l, nil
}

// Latest resolves @latest as the go command would among the allowed
// candidates.
func (f Filter) Latest(ctx context.Context, q Query) (Pick, error) {
	m, err := f.Facts.Module(ctx, q.Module)
	if err != nil {
		return Pick{}, err
	}
	var out Pick
	fp, err := f.Facts.ResolveLatest(ctx, m, func(ctx context.Context, v string) (bool, error) {
		d, err := f.Decide(ctx, Query{Module: q.Module, Version: v, Kind: KindLatest, Client: q.Client})
		if err != nil {
			return false, err
		}
		out.Tried = append(out.Tried, Verdict{Version: v, Decision: d})
		return d.Allowed(), nil
	})
	if err != nil {
		return Pick{}, err
	}
	out.Version, out.Unfiltered = fp.Version, fp.Unfiltered
	for _, t := range out.Tried {
		if t.Version == out.Version || out.Version == "" && t.Version == out.Unfiltered {
			out.Decision = t.Decision
		}
	}
	return out, nil
}
