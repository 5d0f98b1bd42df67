package proxy

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's Prometheus instruments. Create them with
// [NewMetrics] and a registry; a nil *Metrics records nothing.
type Metrics struct {
	requests      *prometheus.CounterVec   // endpoint, code
	latency       *prometheus.HistogramVec // endpoint
	cache         *prometheus.CounterVec   // kind, result (hit, miss, stale)
	upstream      *prometheus.CounterVec   // class, result
	bytesServed   *prometheus.CounterVec   // kind
	bytesFetched  prometheus.Counter
	verifyFailure *prometheus.CounterVec // file
	denied        *prometheus.CounterVec // kind

	// Children for the label values of every cache hit, resolved once:
	// WithLabelValues hashes its values and locks on each call.
	okRequests map[string]prometheus.Counter  // requests{endpoint, "200"}
	latencyBy  map[string]prometheus.Observer // latency{endpoint}
	hits       map[Kind]prometheus.Counter    // cache{kind, "hit"}
	servedBy   map[Kind]prometheus.Counter    // bytesServed{kind}
}

// NewMetrics creates the proxy's instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_requests_total", Help: "Requests served, by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "modgate_request_duration_seconds", Help: "Request latency by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_cache_requests_total", Help: "Cache look-ups by artifact kind and result (hit, miss, stale).",
		}, []string{"kind", "result"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_upstream_fetches_total", Help: "Upstream fetches by artifact kind and result.",
		}, []string{"kind", "result"}),
		bytesServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_served_bytes_total", Help: "Artifact bytes served from the cache, by kind.",
		}, []string{"kind"}),
		bytesFetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "modgate_upstream_bytes_total", Help: "Bytes fetched from upstreams.",
		}),
		verifyFailure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_verification_failures_total", Help: "Artifacts that failed verification, by file.",
		}, []string{"file"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_policy_denied_total", Help: "Requests or listed versions denied by policy, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.requests, m.latency, m.cache, m.upstream, m.bytesServed, m.bytesFetched, m.verifyFailure, m.denied)
	m.okRequests = make(map[string]prometheus.Counter)
	m.latencyBy = make(map[string]prometheus.Observer)
	m.hits = make(map[Kind]prometheus.Counter)
	m.servedBy = make(map[Kind]prometheus.Counter)
	for _, k := range []Kind{KindList, KindLatest, KindInfo, KindMod, KindZip, "other"} {
		m.okRequests[string(k)] = m.requests.WithLabelValues(string(k), "200")
		m.latencyBy[string(k)] = m.latency.WithLabelValues(string(k))
		m.hits[k] = m.cache.WithLabelValues(string(k), "hit")
		m.servedBy[k] = m.bytesServed.WithLabelValues(string(k))
	}
	return m
}

func (m *Metrics) observe(endpoint string, code int, d time.Duration) {
	if m == nil {
		return
	}
	if c, ok := m.okRequests[endpoint]; ok && code == 200 {
		c.Inc()
	} else {
		m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	}
	if o, ok := m.latencyBy[endpoint]; ok {
		o.Observe(d.Seconds())
	} else {
		m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
	}
}

func (m *Metrics) cacheResult(kind Kind, result string) {
	if m == nil {
		return
	}
	if c, ok := m.hits[kind]; ok && result == "hit" {
		c.Inc()
		return
	}
	m.cache.WithLabelValues(string(kind), result).Inc()
}

func (m *Metrics) upstreamResult(kind Kind, result string) {
	if m != nil {
		m.upstream.WithLabelValues(string(kind), result).Inc()
	}
}

func (m *Metrics) served(kind Kind, n int64) {
	if m == nil {
		return
	}
	if c, ok := m.servedBy[kind]; ok {
		c.Add(float64(n))
		return
	}
	m.bytesServed.WithLabelValues(string(kind)).Add(float64(n))
}

func (m *Metrics) fetched(n int64) {
	if m != nil {
		m.bytesFetched.Add(float64(n))
	}
}

func (m *Metrics) verifyFailed(file string) {
	if m != nil {
		m.verifyFailure.WithLabelValues(file).Inc()
	}
}

func (m *Metrics) deniedOne(kind Kind) {
	if m != nil {
		m.denied.WithLabelValues(string(kind)).Inc()
	}
}
