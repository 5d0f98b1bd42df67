package policy

import (
	"context"
	"time"

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
	req := Request{
		Module:    q.Module,
		Version:   q.Version,
		Kind:      q.Kind,
		Time:      q.Time,
		FirstSeen: q.FirstSeen,
		Client:    q.Client,
	}
	if (q.Kind == proxy.KindInfo || q.Kind == proxy.KindMod) && d.e.Config().ServeInfoMod() && !d.e.facts.fresh(q.Module) {
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
