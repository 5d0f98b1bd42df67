package policy

import (
	"context"

	"github.com/modgate/modgate/proxy"
)

// Decider adapts the engine to [proxy.Decider]. With
// Config.ServeInfoModWhenDenied (the default) a denied version's .info and
// .mod are still served: their denies are returned as warnings prefixed
// "denied for download: ", so module graph resolution keeps working and
// the denial surfaces when the zip is requested.
func (e *Engine) Decider() proxy.Decider { return decider{e} }

type decider struct{ e *Engine }

var (
	_ proxy.Decider    = decider{}
	_ proxy.Prefetcher = decider{}
)

// Prefetch loads the module facts (versions, latest go.mod) into the
// fact cache while the proxy downloads, so the decision does not wait for
// them afterwards.
func (d decider) Prefetch(ctx context.Context, module string) {
	if d.e.factsSrc != nil {
		d.e.facts.get(ctx, module)
	}
}

func (d decider) Decide(ctx context.Context, q proxy.Query) (proxy.Decision, error) {
	res, err := d.e.Decide(ctx, Request{
		Module:    q.Module,
		Version:   q.Version,
		Kind:      q.Kind,
		Time:      q.Time,
		FirstSeen: q.FirstSeen,
		Client:    q.Client,
	})
	if err != nil {
		return proxy.Decision{}, err
	}
	dec := proxy.Decision{Deny: res.Deny, Warn: res.Warn, Audit: res.Audit}
	if len(dec.Deny) > 0 && (q.Kind == proxy.KindInfo || q.Kind == proxy.KindMod) && d.e.Config().ServeInfoMod() {
		warn := make([]Violation, 0, len(dec.Warn)+len(dec.Deny))
		warn = append(warn, dec.Warn...)
		for _, v := range dec.Deny {
			v.Msg = "denied for download: " + v.Msg
			warn = append(warn, v)
		}
		dec.Deny, dec.Warn = nil, warn
	}
	return dec, nil
}
