package policy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors. They exist whether or not
// they are registered, so the hot path never checks.
type metrics struct {
	decisions   *prometheus.CounterVec // kind, outcome (allow|deny)
	violations  *prometheus.CounterVec // rule, outcome (deny|warn|audit)
	cache       *prometheus.CounterVec // result (hit|miss)
	hit, miss   prometheus.Counter
	errors      prometheus.Counter
	evalSeconds prometheus.Histogram
	// Decision log: records dropped by sampling, write and rotation
	// failures, rotations.
	logSampledOut, logErrors, logRotations prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_policy_decisions_total",
			Help: "Policy decisions by artifact kind and outcome (allow or deny).",
		}, []string{"kind", "outcome"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_policy_violations_total",
			Help: "Rule findings in decisions, by rule and outcome (deny, warn or audit).",
		}, []string{"rule", "outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "modgate_policy_cache_lookups_total",
			Help: "Decision cache lookups by result (hit or miss).",
		}, []string{"result"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "modgate_policy_errors_total",
			Help: "Decisions that failed (fact source or evaluation errors); the proxy fails closed.",
		}),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "modgate_policy_evaluation_seconds",
			Help:    "Time to gather facts and evaluate the policy for an uncached decision.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 14),
		}),
		logSampledOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "modgate_policy_decision_log_sampled_out_total",
			Help: "Decision log records of allowed decisions without findings dropped by sampling (decision_log.sample_allowed).",
		}),
		logErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "modgate_policy_decision_log_errors_total",
			Help: "Decision log write failures (each loses its record) and rotation failures (which lose nothing).",
		}),
		logRotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "modgate_policy_decision_log_rotations_total",
			Help: "Decision log file rotations (decision_log.max_size).",
		}),
	}
	m.hit = m.cache.WithLabelValues("hit")
	m.miss = m.cache.WithLabelValues("miss")
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.decisions, m.violations, m.cache, m.errors, m.evalSeconds, m.logSampledOut, m.logErrors, m.logRotations} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// counters resolves the counters a decision increments, once per
// evaluation; cache hits replay them without label lookups.
func (m *metrics) counters(kind Kind, r *Result) []prometheus.Counter {
	outcome := "allow"
	if len(r.Deny) > 0 {
		outcome = "deny"
	}
	cs := []prometheus.Counter{m.decisions.WithLabelValues(string(kind), outcome)}
	for _, s := range []struct {
		outcome string
		vs      []Violation
	}{{"deny", r.Deny}, {"warn", r.Warn}, {"audit", r.Audit}} {
		for _, v := range s.vs {
			cs = append(cs, m.violations.WithLabelValues(v.Rule, s.outcome))
		}
	}
	return cs
}
