package vulndb

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
)

// Refresher keeps a current [Snapshot]: it loads one at start, reloads on
// the [Config.Refresh] schedule, swaps atomically, and keeps serving the
// previous snapshot when a reload fails. It implements [SnapshotSource].
// Methods are safe for concurrent use.
type Refresher struct {
	// Loader loads snapshots. Required.
	Loader *Loader
	// Logger receives refresh results. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// RetryMin is the first delay before retrying a failed refresh; it
	// doubles per consecutive failure up to RetryMax, and a scheduled
	// refresh that comes sooner wins. Zero means 15s and 10m. Without
	// retries, a failed first load at startup would leave the proxy
	// without a database until the next scheduled time.
	RetryMin, RetryMax time.Duration

	cur atomic.Pointer[Snapshot]

	refreshMu sync.Mutex // serializes refreshes

	mu     sync.Mutex // guards status
	status Status
}

// Status describes the refresher for /readyz and /metrics.
type Status struct {
	// Snapshot is the current snapshot, nil before the first success.
	Snapshot *Snapshot
	// LastAttempt and LastSuccess are when a refresh last ended and last
	// succeeded.
	LastAttempt, LastSuccess time.Time
	// LastError is the error of the last refresh, nil if it succeeded.
	LastError error
	// Failures counts failed refreshes since start.
	Failures int64
	// ConsecutiveFailures counts failures since the last success.
	ConsecutiveFailures int64
}

// ErrNotLoaded is returned by [Refresher.Ready] before the first load.
var ErrNotLoaded = errors.New("vulnerability database not loaded")

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Refresher) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Current returns the current snapshot, or nil before the first
// successful load.
func (r *Refresher) Current() *Snapshot { return r.cur.Load() }

// Status returns a copy of the current status.
func (r *Refresher) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.Snapshot = r.cur.Load()
	return st
}

// Ready returns nil once a snapshot is loaded, else ErrNotLoaded wrapping
// the last load error.
func (r *Refresher) Ready() error {
	if r.cur.Load() != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.status.LastError != nil {
		return errors.Join(ErrNotLoaded, r.status.LastError)
	}
	return ErrNotLoaded
}

// Refresh loads a new snapshot now and swaps it in. On failure the
// current snapshot stays and the error is returned (and recorded in
// Status). Concurrent calls are serialized.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	s, err := r.Loader.Load(ctx)
	now := r.now()
	r.mu.Lock()
	r.status.LastAttempt = now
	r.status.LastError = err
	if err != nil {
		r.status.Failures++
		r.status.ConsecutiveFailures++
	} else {
		r.status.LastSuccess = now
		r.status.ConsecutiveFailures = 0
	}
	r.mu.Unlock()
	if err != nil {
		attrs := []any{"err", err}
		if old := r.cur.Load(); old != nil {
			attrs = append(attrs, "serving", old.ID, "age", old.Age(now).Round(time.Second))
		}
		r.logger().Error("vulndb: refresh failed", attrs...)
		return err
	}
	if old := r.cur.Swap(s); old == nil || old.ID != s.ID {
		r.logger().Info("vulndb: snapshot swapped", "id", s.ID, "entries", s.Len(), "modified", s.Modified)
	}
	return nil
}

// Run loads the first snapshot and then refreshes on schedule until ctx
// is done. Failed refreshes (including the first load) are logged,
// recorded in Status, and retried with backoff (see RetryMin). Run
// returns ctx.Err(), or an error if the schedule is invalid.
func (r *Refresher) Run(ctx context.Context) error {
	spec := r.Loader.Config.refresh()
	var sched cron.Schedule
	if spec != RefreshOff {
		var err error
		if sched, err = cron.ParseStandard(spec); err != nil {
			return err
		}
	}
	retryMin, retryMax := r.RetryMin, r.RetryMax
	if retryMin <= 0 {
		retryMin = 15 * time.Second
	}
	if retryMax <= 0 {
		retryMax = 10 * time.Minute
	}
	retry := retryMin
	for {
		// A plain timer over the parsed schedule rather than a cron.Cron:
		// there is one job, refreshes must not overlap, and failures
		// need their own, earlier retry time.
		wait := time.Duration(-1)
		if err := r.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait = retry
			retry = min(2*retry, retryMax)
		} else {
			retry = retryMin
		}
		now := r.now()
		if sched != nil {
			if d := sched.Next(now).Sub(now); wait < 0 || d < wait {
				wait = d
			}
		}
		if wait < 0 {
			<-ctx.Done()
			return ctx.Err()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Collector returns Prometheus metrics about the refresher:
// modgate_vulndb_snapshot_age_seconds, modgate_vulndb_entries,
// modgate_vulndb_snapshot_info{id,source} (constant 1),
// modgate_vulndb_last_success_timestamp_seconds and
// modgate_vulndb_refresh_failures_total. Register it once.
func (r *Refresher) Collector() prometheus.Collector { return &collector{r: r} }

type collector struct{ r *Refresher }

var (
	descAge = prometheus.NewDesc("modgate_vulndb_snapshot_age_seconds",
		"Age of the vulnerability data (now minus the database's modified time).", nil, nil)
	descEntries = prometheus.NewDesc("modgate_vulndb_entries",
		"Number of entries in the current vulnerability database snapshot.", nil, nil)
	descInfo = prometheus.NewDesc("modgate_vulndb_snapshot_info",
		"Identity of the current vulnerability database snapshot.", []string{"id", "source"}, nil)
	descSuccess = prometheus.NewDesc("modgate_vulndb_last_success_timestamp_seconds",
		"Unix time of the last successful vulnerability database refresh.", nil, nil)
	descFailures = prometheus.NewDesc("modgate_vulndb_refresh_failures_total",
		"Failed vulnerability database refreshes.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAge, descEntries, descInfo, descSuccess, descFailures} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Status()
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(st.Failures))
	if s := st.Snapshot; s != nil {
		ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, s.Age(c.r.now()).Seconds())
		ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(s.Len()))
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, s.ID, s.Source)
	}
	if !st.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.GaugeValue, float64(st.LastSuccess.Unix()))
	}
}
