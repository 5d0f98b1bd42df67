package policy

import (
	"encoding/json"
	"slices"

	"github.com/modgate/modgate/policy/declog"
	"github.com/modgate/modgate/proxy"
)

// openDecisionLog opens the decision log cfg describes, or the writer
// opts.DecisionLog overrides it with (sampled, never rotated). It returns
// nil when there is no log. See package declog for the record shapes.
func openDecisionLog(cfg DecisionLogConfig, opts Options, m *metrics) (*declog.Log, error) {
	return declog.Open(declog.Options{
		Path:          cfg.Path,
		Writer:        opts.DecisionLog,
		Stdout:        opts.Stdout,
		MaxSize:       int64(cfg.MaxSize),
		MaxBackups:    cfg.MaxBackups,
		SampleAllowed: cfg.SampleAllowed,
		Rand:          opts.SampleRand,
		Logger:        opts.Logger,
		SampledOut:    m.logSampledOut,
		Errors:        m.logErrors,
		Rotations:     m.logRotations,
	})
}

// cleanResult reports whether r allowed the version without findings,
// which makes its log record subject to sampling.
func cleanResult(r *Result) bool {
	return len(r.Deny) == 0 && len(r.Warn) == 0 && len(r.Audit) == 0
}

// addCandidate files one candidate of a list or @latest request in l: as
// allowed or denied by its decision, and under audit and warn when it has
// such findings. Call it in candidate order.
func addCandidate(l *declog.Listing, version string, d proxy.Decision) {
	if d.Allowed() {
		l.Allowed = append(l.Allowed, version)
	} else {
		l.Denied = append(l.Denied, declog.Candidate{Version: version, Rules: ruleNames(d.Deny)})
	}
	if len(d.Audit) > 0 {
		l.Audit = append(l.Audit, declog.Candidate{Version: version, Rules: ruleNames(d.Audit)})
	}
	if len(d.Warn) > 0 {
		l.Warn = append(l.Warn, declog.Candidate{Version: version, Rules: ruleNames(d.Warn)})
	}
}

// ruleNames returns the distinct rules of vs, in order.
func ruleNames(vs []Violation) []string {
	names := make([]string, 0, len(vs))
	for _, v := range vs {
		if !slices.Contains(names, v.Rule) {
			names = append(names, v.Rule)
		}
	}
	return names
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal("unencodable: " + err.Error())
	}
	return b
}

// resultJSON renders the decision as the log's result field.
func resultJSON(r *Result) []byte {
	nz := func(v []Violation) []Violation {
		if v == nil {
			return []Violation{}
		}
		return v
	}
	out := struct {
		Allowed    bool        `json:"allowed"`
		Deny       []Violation `json:"deny"`
		Warn       []Violation `json:"warn"`
		Audit      []Violation `json:"audit"`
		ValidUntil string      `json:"valid_until,omitempty"`
	}{r.Allowed(), nz(r.Deny), nz(r.Warn), nz(r.Audit), timeString(r.ValidUntil)}
	return mustJSON(out)
}

func bundlesJSON(revs map[string]string) []byte {
	m := make(map[string]map[string]string, len(revs))
	for k, v := range revs {
		m[k] = map[string]string{"revision": v}
	}
	return mustJSON(m)
}
