package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/mod/module"
)

// DecisionRequest is the body of POST /api/v1/decisions: the modules a CI
// check or the update bot wants judged by the proxy's central policy.
type DecisionRequest struct {
	// Kind is the artifact kind to decide for; empty means "zip" (the
	// strictest: what a build downloads).
	Kind    Kind            `json:"kind,omitempty"`
	Modules []ModuleVersion `json:"modules"`
}

// ModuleVersion names one module version.
type ModuleVersion struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

// DecisionResponse answers a [DecisionRequest], in request order.
type DecisionResponse struct {
	Decisions []ModuleDecision `json:"decisions"`
}

// ModuleDecision is the verdict on one module version.
type ModuleDecision struct {
	Path    string      `json:"path"`
	Version string      `json:"version"`
	Allowed bool        `json:"allowed"`
	Deny    []Violation `json:"deny,omitempty"`
	Warn    []Violation `json:"warn,omitempty"`
	Audit   []Violation `json:"audit,omitempty"`
	// Error is set when no decision could be made for this version.
	Error string `json:"error,omitempty"`
}

// maxDecisionModules bounds one API request; a build list rarely exceeds
// a few hundred modules.
const maxDecisionModules = 5000

// DecisionAPI returns the handler for POST /api/v1/decisions, which lets
// `modgate check --proxy` and the bot apply this proxy's policy.
func (p *Proxy) DecisionAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.init()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeText(w, r, http.StatusMethodNotAllowed, "use POST with a JSON body")
			return
		}
		var req DecisionRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeText(w, r, http.StatusBadRequest, "malformed decision request: "+err.Error())
			return
		}
		if len(req.Modules) > maxDecisionModules {
			writeText(w, r, http.StatusBadRequest, fmt.Sprintf("too many modules: %d > %d", len(req.Modules), maxDecisionModules))
			return
		}
		kind := req.Kind
		switch kind {
		case "":
			kind = KindZip
		case KindInfo, KindMod, KindZip, KindList, KindLatest:
		default:
			writeText(w, r, http.StatusBadRequest, fmt.Sprintf("unknown kind %q", kind))
			return
		}
		resp := DecisionResponse{Decisions: make([]ModuleDecision, 0, len(req.Modules))}
		for _, m := range req.Modules {
			md := ModuleDecision{Path: m.Path, Version: m.Version}
			if err := module.Check(m.Path, m.Version); err != nil || module.CanonicalVersion(m.Version) != m.Version {
				md.Error = fmt.Sprintf("invalid module version %s@%s", m.Path, m.Version)
				resp.Decisions = append(resp.Decisions, md)
				continue
			}
			q := Query{Client: clientID(r)}
			if t, err := p.InfoTime(r.Context(), m.Path, m.Version); err == nil {
				q.Time = t
			}
			d, err := p.decide(r.Context(), Request{Module: m.Path, Version: m.Version}, kind, q)
			md.Deny, md.Warn, md.Audit = d.Deny, d.Warn, d.Audit
			md.Allowed = d.Allowed()
			if err != nil {
				if _, denied := err.(*DeniedError); !denied {
					md.Error = err.Error()
					md.Allowed = false
				}
			}
			resp.Decisions = append(resp.Decisions, md)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(resp)
	})
}
