package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/license"
	"github.com/modgate/modgate/scanner/vulndb"
)

// core is what every command that decides is built from, the same way for
// each (serve, check, policy eval, policy baseline): the verified module
// cache in front of the upstream, the facts service over it, the
// vulnerability database loaded through it, and the policy engine over
// the facts. A module version therefore gets the same verdict from every
// entry point.
type core struct {
	store    storage.Storage
	verifier *checksum.Verifier
	upstream *upstream.Client
	cache    *modcache.Cache
	facts    *facts.Service
	vulns    *vulndb.Refresher // nil with no vulnerability database
	engine   *policy.Engine
	decider  proxy.Decider
}

// coreOptions are what differs between commands.
type coreOptions struct {
	logger *slog.Logger
	// now is the clock (nil: time.Now).
	now func() time.Time
	// registry receives metrics (nil: none).
	registry prometheus.Registerer
	// oneShot marks a command that exits when done: stale lists are
	// refetched before answering rather than in the background.
	oneShot bool
	// noVulns builds no vulnerability database (facts have none).
	noVulns bool
	// stdout is where decision_log "-" writes; decisionLog, if set,
	// replaces the configured destination.
	stdout      io.Writer
	decisionLog io.Writer
}

// newCore wires the parts from the configuration. It fails on an invalid
// policy rather than deciding without one.
func newCore(ctx context.Context, cfg *Config, ge goEnv, o coreOptions) (*core, error) {
	logger := o.logger
	store, err := storage.NewDisk(cfg.StorageDir)
	if err != nil {
		return nil, err
	}
	up, err := newUpstream(cfg, cfg.Upstream, logger)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	var privUp modcache.Source
	if cfg.PrivateUpstream != "" {
		c, err := newUpstream(cfg, cfg.PrivateUpstream, logger)
		if err != nil {
			return nil, fmt.Errorf("private_upstream: %w", err)
		}
		privUp = c
	}
	db, err := parseSumDB(cfg, ge.GOROOT)
	if err != nil {
		return nil, err
	}
	if db == nil {
		logger.Warn("checksum database disabled (sumdb: off): artifacts are checked for structure only")
	}
	// Private modules are never looked up in the public database.
	verifier := &checksum.Verifier{DB: db, NoSumDB: joinPatterns(cfg.NoSumDB, cfg.Private), Upstream: up, Store: store,
		Timeout: cfg.UpstreamTimeout, Logger: logger}
	c := &core{store: store, verifier: verifier, upstream: up}
	c.cache = &modcache.Cache{Upstream: up, Private: cfg.Private, PrivateUpstream: privUp, Verifier: verifier, Store: store,
		ListTTL: cfg.ListTTL, NotFoundTTL: cfg.NotFoundTTL, Now: o.now, Logger: logger, SyncStale: o.oneShot}
	if o.registry != nil {
		c.cache.Metrics = modcache.NewMetrics(o.registry)
	}
	c.facts = &facts.Service{Source: c.cache, LicenseCache: &license.Cache{}, Now: o.now, Logger: logger}
	// The policy needs a module's list and latest go.mod; load them while
	// its files download rather than after.
	c.cache.OnMiss = func(ctx context.Context, mod string) { c.facts.Module(ctx, mod) }
	if !o.noVulns {
		c.vulns = &vulndb.Refresher{
			Loader: &vulndb.Loader{Config: cfg.VulnDB, Logger: logger, Now: o.now,
				Fetcher: facts.Fetcher{S: c.facts, MaxAge: cfg.VulnDB.Interval()}},
			Logger: logger, Now: o.now,
		}
		c.facts.VulnDB = c.vulns
		if o.registry != nil {
			o.registry.MustRegister(c.vulns.Collector())
		}
	}
	c.engine, err = policy.NewEngine(ctx, policy.Options{
		Config: &cfg.Policy, Facts: c.facts, Registerer: o.registry, Logger: logger,
		Stdout: o.stdout, DecisionLog: o.decisionLog, Now: o.now,
	})
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	c.decider = c.engine.Decider()
	return c, nil
}

// newUpstream parses a GOPROXY-style list into a client.
func newUpstream(cfg *Config, list string, logger *slog.Logger) (*upstream.Client, error) {
	entries, err := upstream.ParseList(list)
	if err != nil {
		return nil, err
	}
	c := &upstream.Client{Entries: entries, Timeout: cfg.UpstreamTimeout, IdleTimeout: cfg.UpstreamIdleTimeout,
		MaxConcurrent: cfg.UpstreamConcurrency, Logger: logger}
	for _, w := range c.Check() {
		logger.Warn(w)
	}
	return c, nil
}

// loadVulns loads the vulnerability database once, for one-shot
// commands: from the cached module when it is recent enough, else through
// the upstream.
func (c *core) loadVulns(ctx context.Context) error {
	if c.vulns == nil {
		return nil
	}
	if err := c.vulns.Refresh(ctx); err != nil {
		return fmt.Errorf("vulnerability database: %w (use --no-vulns to check without it)", err)
	}
	return nil
}

// snapshot returns the loaded vulnerability database, nil without one.
func (c *core) snapshot() *vulndb.Snapshot {
	if c.vulns == nil {
		return nil
	}
	return c.vulns.Current()
}

// close flushes the decision log and waits for background work.
func (c *core) close() {
	c.cache.Wait()
	c.engine.Close()
}
