package proxy

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the protocol handlers' Prometheus instruments (the cache's
// are [modcache.Metrics]). Create them with
// [NewMetrics] and a registry; a nil *Metrics records nothing.
type Metrics struct {
	requests    *prometheus.CounterVec   // endpoint, code
	latency     *prometheus.HistogramVec // endpoint
	bytesServed *prometheus.CounterVec   // kind
	denied      *prometheus.CounterVec   // kind

	// Children for the label values of every cache hit, resolved once:
	// WithLabelValues hashes its values and locks on each call.
	okRequests map[string]prometheus.Counter  // requests{endpoint, "200"}
	latencyBy  map[string]prometheus.Observer // latency{endpoint}
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
		bytesServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_served_bytes_total", Help: "Artifact bytes served from the cache, by kind.",
		}, []string{"kind"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_policy_denied_total", Help: "Requests or listed versions denied by policy, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.requests, m.latency, m.bytesServed, m.denied)
	m.okRequests = make(map[string]prometheus.Counter)
	m.latencyBy = make(map[string]prometheus.Observer)
	m.servedBy = make(map[Kind]prometheus.Counter)
	for _, k := range []Kind{KindList, KindLatest, KindInfo, KindMod, KindZip, "other"} {
		m.okRequests[string(k)] = m.requests.WithLabelValues(string(k), "200")
		m.latencyBy[string(k)] = m.latency.WithLabelValues(string(k))
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

func (m *Metrics) deniedOne(kind Kind) { m.deniedN(kind, 1) }

func (m *Metrics) deniedN(kind Kind, n int) {
	if m != nil && n > 0 {
		m.denied.WithLabelValues(string(kind)).Add(float64(n))
	}
}
