package policy

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// decisionLog writes one JSON line per decision in the shape of OPA's
// decision logs (decision_id, path, input, result, bundles, timestamp,
// requested_by), plus modgate's vulndb_snapshot and cached fields.
type decisionLog struct {
	mu     sync.Mutex // serializes writes so lines never interleave
	w      io.Writer
	closer io.Closer
	buf    []byte
}

type logEntry struct {
	id            string
	input, result []byte // JSON
	bundles       []byte // JSON
	now           time.Time
	client        string
	snapshot      string
	cached        bool
	evalNS        int64
	err           error
}

func (d *decisionLog) write(e logEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.buf[:0]
	b = append(b, `{"decision_id":`...)
	b = appendString(b, e.id)
	b = append(b, `,"path":"modgate/decision"`...)
	if len(e.input) > 0 {
		b = append(b, `,"input":`...)
		b = append(b, e.input...)
	}
	if len(e.result) > 0 {
		b = append(b, `,"result":`...)
		b = append(b, e.result...)
	}
	if e.err != nil {
		b = append(b, `,"error":`...)
		b = appendString(b, e.err.Error())
	}
	if len(e.bundles) > 0 {
		b = append(b, `,"bundles":`...)
		b = append(b, e.bundles...)
	}
	b = append(b, `,"timestamp":"`...)
	b = e.now.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","requested_by":`...)
	b = appendString(b, e.client)
	b = append(b, `,"vulndb_snapshot":`...)
	b = appendString(b, e.snapshot)
	if e.cached {
		b = append(b, `,"cached":true`...)
	} else if e.evalNS > 0 {
		b = append(b, `,"metrics":{"timer_modgate_decide_ns":`...)
		b = appendInt(b, e.evalNS)
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	d.buf = b
	_, _ = d.w.Write(b) // a failing log must not fail decisions
}

// listingEntry is one list or @latest request: its candidates and, for
// @latest, the version chosen.
type listingEntry struct {
	id               string
	kind             Kind
	module           string
	allowed, audit   []string
	denied           []deniedCandidate
	chosen           string
	bundles          []byte
	digest           string
	now              time.Time
	client, snapshot string
}

type deniedCandidate struct {
	Version string   `json:"version"`
	Rules   []string `json:"rules"`
}

func (d *decisionLog) writeListing(e listingEntry) {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	denied := e.denied
	if denied == nil {
		denied = []deniedCandidate{}
	}
	rec := struct {
		ID         string          `json:"decision_id"`
		Path       string          `json:"path"`
		Kind       Kind            `json:"kind"`
		Module     string          `json:"module"`
		Candidates any             `json:"candidates"`
		Chosen     string          `json:"chosen,omitempty"`
		Bundles    json.RawMessage `json:"bundles"`
		Revision   string          `json:"policy_revision"`
		Timestamp  string          `json:"timestamp"`
		Client     string          `json:"requested_by"`
		Snapshot   string          `json:"vulndb_snapshot"`
	}{e.id, "modgate/" + string(e.kind), e.kind, e.module,
		map[string]any{"allowed": nz(e.allowed), "denied": denied, "audit": nz(e.audit)},
		e.chosen, e.bundles, e.digest, e.now.UTC().Format(time.RFC3339Nano), e.client, e.snapshot}
	b, _ := json.Marshal(rec)
	d.mu.Lock()
	defer d.mu.Unlock()
	_, _ = d.w.Write(append(b, '\n'))
}

func (d *decisionLog) close() error {
	if d.closer != nil {
		return d.closer.Close()
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func appendInt(b []byte, n int64) []byte {
	q, _ := json.Marshal(n)
	return append(b, q...)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return appendString(nil, "unencodable: "+err.Error())
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
