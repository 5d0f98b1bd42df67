package policy

import (
	"context"
	"slices"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
	"golang.org/x/mod/semver"
)

// Decider adapts the engine to [proxy.Decider]: the one place where
// versions are judged for every entry point (the proxy's files, lists and
// @latest, the decision API, modgate check and modgate policy eval).
//
// With Config.ServeInfoModWhenDenied (the default) a denied version's
// .info and .mod are still served: their denies are returned as warnings
// prefixed "denied for download: ", so module graph resolution keeps
// working and the denial surfaces when the zip is requested.
func (e *Engine) Decider() proxy.Decider { return decider{e} }

type decider struct{ e *Engine }

var _ proxy.Decider = decider{}

// listConcurrency bounds the candidates decided at once while filtering a
// list (an uncached candidate may need its .info time).
const listConcurrency = 8

// maxSuggest bounds the candidates tried when looking for the nearest
// allowed version of a denial.
const maxSuggest = 24

func (d decider) Decide(ctx context.Context, q proxy.Query) (proxy.Decision, error) {
	req := Request{Module: q.Module, Version: q.Version, Kind: q.Kind, Client: q.Client}
	warnOnly := (q.Kind == proxy.KindInfo || q.Kind == proxy.KindMod) && d.e.Config().ServeInfoMod()
	if warnOnly && d.e.facts != nil && !d.e.facts.Loaded(q.Module) {
		// Such a decision can only warn, so the client need not wait for
		// the module facts (list, latest go.mod: upstream round trips)
		// the first time a module is seen: it is served now and the
		// decision completes in the background for the log, metrics and
		// caches. The zip's decision, which can deny, waits as usual,
		// by then usually on facts loaded here.
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			d.e.Decide(ctx, req)
		}()
		return proxy.Decision{}, nil
	}
	res, err := d.e.Decide(ctx, req)
	if err != nil {
		return proxy.Decision{}, err
	}
	dec := proxy.Decision{Deny: res.Deny, Warn: res.Warn, Audit: res.Audit}
	if len(dec.Deny) > 0 && warnOnly {
		warn := make([]Violation, 0, len(dec.Warn)+len(dec.Deny))
		warn = append(warn, dec.Warn...)
		for _, v := range dec.Deny {
			v.Msg = "denied for download: " + v.Msg
			warn = append(warn, v)
		}
		dec.Deny, dec.Warn = nil, warn
		return dec, nil
	}
	if len(dec.Deny) > 0 {
		if dec.Suggest, err = d.e.Suggest(ctx, q.Module, q.Version, q.Client); err != nil {
			d.e.log.Warn("no fix suggestion", "module", q.Module, "version", q.Version, "err", err)
		}
	}
	return dec, nil
}

// Suggest returns the version a developer denied module@version should
// move to: the lowest allowed tag above it, else the highest allowed tag
// below it (for example when a cooldown holds back every newer version);
// "" when none of the nearest candidates is allowed, and "" with the error
// when one of them cannot be decided.
func (e *Engine) Suggest(ctx context.Context, module, version string, client proxy.Client) (string, error) {
	st := e.state.Load()
	now, snap := e.now(), e.snapshot()
	m, err := e.module(ctx, module)
	if err != nil {
		return "", err
	}
	allowed := func(v string) (bool, error) {
		d, err := e.decide(ctx, st, m, Request{Module: module, Version: v, Kind: proxy.KindZip, Client: client}, now, snap)
		return err == nil && d.res.Allowed(), err
	}
	above := m.TaggedAbove(version)
	// The versions at or past the fix of every vulnerability come first:
	// a version many releases behind its fix would otherwise exhaust the
	// search on versions that are all still vulnerable.
	if fixed, err := e.fixedAbove(ctx, m, version); err == nil && fixed != "" {
		i, _ := slices.BinarySearchFunc(above, fixed, semver.Compare)
		above = append(slices.Clone(above[i:]), above[:i]...)
	}
	below := m.OlderAllowed(version)
	// A candidate that cannot be decided ends the search without a
	// suggestion: it is not known to be allowed.
	for _, vs := range [][]string{above, below} {
		for _, v := range vs[:min(len(vs), maxSuggest)] {
			ok, err := allowed(v)
			if err != nil {
				return "", err
			}
			if ok {
				return v, nil
			}
		}
	}
	return "", nil
}

// filter is the proxy's list and @latest logic over the engine's
// decisions, made without logging each candidate: the request is logged
// once, with its candidates.
func (d decider) filter() proxy.Filter {
	e := d.e
	return proxy.Filter{Facts: e.facts, Concurrency: listConcurrency, Func: func(ctx context.Context, q proxy.Query) (proxy.Decision, error) {
		st := e.state.Load()
		m, err := e.module(ctx, q.Module)
		if err != nil {
			return proxy.Decision{}, err
		}
		r, err := e.decide(ctx, st, m, Request{Module: q.Module, Version: q.Version, Kind: q.Kind, Client: q.Client}, e.now(), e.snapshot())
		if err != nil {
			return proxy.Decision{}, err
		}
		return proxy.Decision{Deny: r.res.Deny, Warn: r.res.Warn, Audit: r.res.Audit}, nil
	}}
}

// fixedAbove returns the lowest version that the vulnerability database
// says fixes every entry affecting module@version, "" when none affects it
// or one has no fix.
func (e *Engine) fixedAbove(ctx context.Context, m *facts.Module, version string) (string, error) {
	vs, err := e.facts.Vulns(ctx, m, version)
	if err != nil {
		return "", err
	}
	fixed := ""
	for _, v := range vs {
		if v.Fixed == "" {
			return "", nil
		}
		if fixed == "" || semver.Compare(v.Fixed, fixed) > 0 {
			fixed = v.Fixed
		}
	}
	return fixed, nil
}

// List filters the module's listed versions: one decision per candidate
// (of kind list), one decision log record for the request.
func (d decider) List(ctx context.Context, q proxy.Query) (proxy.Listing, error) {
	if d.e.facts == nil {
		return proxy.Listing{}, ErrNoFacts
	}
	l, err := d.filter().List(ctx, q)
	if err != nil {
		d.e.metrics.errors.Inc()
		return l, err
	}
	d.e.logListing(q, l.Verdicts, "")
	return l, nil
}

// Latest resolves @latest as the go command would, newest candidate first,
// stopping at the first one the policy allows; when none is, the decision
// on the go command's pick carries a fix suggestion.
func (d decider) Latest(ctx context.Context, q proxy.Query) (proxy.Pick, error) {
	if d.e.facts == nil {
		return proxy.Pick{}, ErrNoFacts
	}
	p, err := d.filter().Latest(ctx, q)
	if err != nil {
		d.e.metrics.errors.Inc()
		return p, err
	}
	d.e.logListing(q, p.Tried, p.Version)
	if p.Version == "" && p.Unfiltered != "" {
		if p.Decision.Suggest, err = d.e.Suggest(ctx, q.Module, p.Unfiltered, q.Client); err != nil {
			d.e.log.Warn("no fix suggestion", "module", q.Module, "err", err)
		}
	}
	return p, nil
}
