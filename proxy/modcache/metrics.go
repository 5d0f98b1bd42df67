package modcache

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the cache's Prometheus instruments. Create them with
// [NewMetrics] and a registry; a nil *Metrics records nothing.
type Metrics struct {
	cache         *prometheus.CounterVec // kind, result (hit, miss, stale)
	upstream      *prometheus.CounterVec // kind, result
	bytesFetched  prometheus.Counter
	verifyFailure *prometheus.CounterVec // file

	// hits are the children of every cache hit, resolved once:
	// WithLabelValues hashes its values and locks on each call.
	hits map[Kind]prometheus.Counter
}

// NewMetrics creates the cache's instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_cache_requests_total", Help: "Cache look-ups by artifact kind and result (hit, miss, stale).",
		}, []string{"kind", "result"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_upstream_fetches_total", Help: "Upstream fetches by artifact kind and result.",
		}, []string{"kind", "result"}),
		bytesFetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "modgate_upstream_bytes_total", Help: "Bytes fetched from upstreams.",
		}),
		verifyFailure: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_verification_failures_total", Help: "Artifacts that failed verification, by file.",
		}, []string{"file"}),
	}
	reg.MustRegister(m.cache, m.upstream, m.bytesFetched, m.verifyFailure)
	m.hits = make(map[Kind]prometheus.Counter)
	for _, k := range []Kind{KindList, KindLatest, KindInfo, KindMod, KindZip} {
		m.hits[k] = m.cache.WithLabelValues(string(k), "hit")
	}
	return m
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
