package policy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modgate/modgate/policy/declog"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/scanner/vex"
)

// DecisionPath is the Rego document every decision evaluates.
const DecisionPath = "data.modgate.decision"

// Options configures [NewEngine].
type Options struct {
	// Config is the policy configuration; nil means the zero Config.
	Config *Config
	// Facts supplies every fact about modules (versions, latest,
	// retractions, release times, vulnerabilities, licenses). Required
	// for Decide and the proxy's Decider; an engine without it can only
	// evaluate complete inputs (Evaluate, Explain).
	Facts *facts.Service
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Registerer receives the engine's Prometheus collectors; nil means
	// they are not registered.
	Registerer prometheus.Registerer
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// DecisionLog, when non-nil, receives the decision log instead of the
	// destination named by Config.DecisionLog.
	DecisionLog io.Writer
	// Stdout is where Config.DecisionLog "-" writes; nil means os.Stdout.
	Stdout io.Writer
	// SampleRand returns numbers in [0, 1) to sample the decision log
	// (Config.DecisionLog.SampleAllowed); it must be safe for concurrent
	// use. Nil means math/rand/v2.Float64.
	SampleRand func() float64
}

// Engine evaluates the policy. It is safe for concurrent use.
type Engine struct {
	facts   *facts.Service
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	dlog    *declog.Log
	cache   *decisionCache
	ids     idGen

	state    atomic.Pointer[compiled]
	reloadMu sync.Mutex // serializes Reload
}

// compiled is one prepared policy; replaced wholesale on reload.
type compiled struct {
	cfg         *Config
	cfgDoc      map[string]any
	set         *policySet
	compiler    *ast.Compiler
	store       storage.Store
	query       rego.PreparedEvalQuery
	digest      string
	bundles     map[string]string // bundle name -> revision, for the log
	byClient    bool              // rules read input.client: cache per client
	maxCooldown time.Duration
	vex         *vex.Index    // nil without VEX documents
	vexMaxAge   time.Duration // <0: statements never expire
	// needsLicenses: a rule uses license facts, so zip decisions read
	// the zip's licenses even when it must be fetched first.
	needsLicenses bool
	cacheTTL      time.Duration // <0: no caching
	rules         []string      // rule package names
}

// NewEngine validates the configuration, loads and compiles the built-in
// rules plus Config.Paths, and prepares the decision query. Any problem is
// an error: the caller must not serve without a policy (fail closed).
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = &Config{}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		facts:   opts.Facts,
		now:     now,
		log:     logger,
		metrics: newMetrics(),
	}
	e.ids.init()
	st, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e.state.Store(st)
	size := cfg.Cache.Size
	if size == 0 {
		size = defaultCacheSize
	}
	e.cache = newDecisionCache(size)

	if opts.Registerer != nil {
		if err := e.metrics.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("registering policy metrics: %w", err)
		}
	}
	if e.dlog, err = openDecisionLog(cfg.DecisionLog, opts, e.metrics); err != nil {
		return nil, err
	}
	return e, nil
}

// prepare validates cfg, loads and compiles the policy and prepares the
// decision query.
func prepare(ctx context.Context, cfg *Config) (*compiled, error) {
	src, err := gather(cfg)
	if err != nil {
		return nil, err
	}
	return prepareSet(ctx, cfg, src)
}

// source is everything a policy is prepared from: the normalized
// configuration, the rule files and the files the configuration names.
type source struct {
	doc map[string]any
	set *policySet
	ext *externals
	// engine are the settings the engine applies outside the rules.
	engine string
}

// digest identifies the policy (rules, data, configuration, waiver files
// and VEX documents, and the engine's own settings).
func (s *source) digest() string {
	d := s.set.digest(s.doc)
	if s.ext.digest == "" && s.engine == "" {
		return d
	}
	h := sha256.Sum256([]byte(d + "\x00" + s.ext.digest + "\x00" + s.engine))
	return "sha256:" + hex.EncodeToString(h[:])
}

// gather validates cfg, loads its rule files, waiver files and VEX
// documents, and checks the rule names the configuration uses against the
// rules loaded. Every problem is reported at once; configuration problems
// are yamlconf.FieldErrors (cfg.Locate places them).
func gather(cfg *Config) (*source, error) {
	doc, cfgErr := cfg.normalize()
	set, err := loadPolicies(cfg.Paths, false, false)
	if err != nil {
		return nil, errors.Join(cfgErr, err)
	}
	ext, extErr := loadExternals(cfg)
	known := knownRules(set.ruleNames())
	var fileRules error
	if ext != nil {
		fileRules = ext.checkRuleNames(known)
	}
	if err := errors.Join(cfgErr, extErr, cfg.checkRuleNames(known), fileRules); err != nil {
		return nil, err
	}
	doc["waivers"] = append(doc["waivers"].([]any), ext.waivers...)
	engine := ""
	if cfg.ServeInfoModWhenDenied != nil || cfg.Cache.TTL != 0 || cfg.VEXMaxAge != 0 {
		engine = fmt.Sprintf("serve_info_mod=%v cache_ttl=%v vex_max_age=%v", cfg.ServeInfoMod(), cfg.Cache.TTL, cfg.vexMaxAge())
	}
	return &source{doc: doc, set: set, ext: ext, engine: engine}, nil
}

func prepareSet(ctx context.Context, cfg *Config, src *source) (*compiled, error) {
	doc, set := src.doc, src.set
	compiler := ast.NewCompiler().WithCapabilities(capabilities())
	if compiler.Compile(set.modules()); compiler.Failed() {
		return nil, compiler.Errors
	}
	data := map[string]any{}
	if err := mergeData(data, set.data); err != nil {
		return nil, err
	}
	data["modgate"] = map[string]any{"config": doc}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	pq, err := rego.New(
		rego.Query(DecisionPath),
		rego.Compiler(compiler),
		rego.Store(store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing policy query: %w", err)
	}
	st := &compiled{
		cfg:           cfg,
		cfgDoc:        doc,
		set:           set,
		compiler:      compiler,
		store:         store,
		query:         pq,
		digest:        src.digest(),
		vex:           src.ext.vex,
		vexMaxAge:     cfg.vexMaxAge(),
		byClient:      clientSensitive(compiler.Modules),
		maxCooldown:   cfg.maxCooldown(),
		needsLicenses: cfg.Licenses.configured() || set.userReads("licenses", "license_status"),
		cacheTTL:      cfg.Cache.TTL,
	}
	if st.cacheTTL == 0 {
		st.cacheTTL = defaultCacheTTL
	}
	st.rules = set.ruleNames()
	st.bundles = map[string]string{"modgate": st.digest}
	for dir, rev := range set.revisions {
		st.bundles[dir] = rev
	}
	return st, nil
}

// Reload re-reads the policy files and, if cfg is not nil, switches to
// cfg; then re-prepares the query if anything changed. On error the engine
// keeps its current policy. Cached decisions of the old policy are dropped.
// The decision log settings and cache size are fixed at NewEngine.
func (e *Engine) Reload(ctx context.Context, cfg *Config) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	old := e.state.Load()
	if cfg == nil {
		cfg = old.cfg
	}
	src, err := gather(cfg)
	if err != nil {
		return err
	}
	if src.digest() == old.digest {
		return nil
	}
	st, err := prepareSet(ctx, cfg, src)
	if err != nil {
		return err
	}
	e.state.Store(st)
	e.cache.clear()
	e.log.Info("policy reloaded", "digest", st.digest, "previous", old.digest)
	if !reflect.DeepEqual(cfg.DecisionLog, old.cfg.DecisionLog) || cfg.Cache.Size != old.cfg.Cache.Size {
		e.log.Warn("decision_log and cache.size changes take effect at the next restart")
	}
	return nil
}

// Watch polls the policy files every interval and reloads when they
// change, until ctx is done. Reload errors are logged and the current
// policy stays in force.
func (e *Engine) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Reload(ctx, nil); err != nil {
				e.log.Error("policy reload failed; keeping the current policy", "err", err)
			}
		}
	}
}

// Digest identifies the policy in force (rules, data and configuration).
func (e *Engine) Digest() string { return e.state.Load().digest }

// Config returns the configuration in force. Callers must not modify it.
func (e *Engine) Config() *Config { return e.state.Load().cfg }

// Close flushes and closes the decision log.
func (e *Engine) Close() error {
	if e.dlog != nil {
		return e.dlog.Close()
	}
	return nil
}

func (e *Engine) snapshot() string {
	if e.facts == nil {
		return "none"
	}
	return e.facts.VulnDBRevision()
}

// Result is a decision.
type Result struct {
	// Deny lists the violations that deny the version; empty means the
	// version may be served.
	Deny []Violation
	// Warn lists findings that do not block (including waived denies and
	// expired-waiver reports).
	Warn []Violation
	// Audit lists denies downgraded because their rule runs in audit mode.
	Audit []Violation
	// ValidUntil is the earliest instant a time-based rule may flip this
	// decision (a cooldown ending, a waiver expiring); zero if none.
	ValidUntil time.Time
	// Digest identifies the policy that decided.
	Digest string
	// VulnDB is the vulnerability database snapshot the facts came from.
	VulnDB string
	// DecisionID identifies the decision in the decision log.
	DecisionID string
	// Suggest is the nearest version the policy allows (see
	// proxy.Decision.Suggest); set by the Decider for denials.
	Suggest string
	// Cached reports that the decision was served from the cache.
	Cached bool
}

// Allowed reports whether the version may be served.
func (r *Result) Allowed() bool { return len(r.Deny) == 0 }

// ErrNoFacts is returned by decisions of an engine built without a facts
// service.
var ErrNoFacts = errors.New("policy: the engine has no facts service")

// Decide returns the decision for req, from the cache when possible. It
// gathers the facts the input needs from the facts service, evaluates the
// policy, caches the result until the earliest of its ValidUntil, the
// cache TTL, a policy change, a vulnerability DB change or a change of the
// module's facts, and writes one decision log record. Slices in the Result
// are shared; do not modify them.
func (e *Engine) Decide(ctx context.Context, req Request) (Result, error) {
	st := e.state.Load()
	now, snap := e.now(), e.snapshot()
	m, err := e.module(ctx, req.Module)
	var d decided
	if err == nil {
		d, err = e.decide(ctx, st, m, req, now, snap)
	}
	if err != nil {
		e.metrics.errors.Inc()
		if e.dlog != nil {
			e.dlog.Decision(&declog.Decision{ID: e.ids.next(), Input: mustJSON(d.in), Bundles: bundlesJSON(st.bundles),
				PolicyRevision: st.digest, Time: now, Client: req.Client.ID(), VulnDB: snap, Err: err})
		}
		return Result{}, err
	}
	e.logDecision(st, d, req, now, snap)
	return d.res, nil
}

// module returns the module's facts.
func (e *Engine) module(ctx context.Context, path string) (*facts.Module, error) {
	if e.facts == nil {
		return nil, ErrNoFacts
	}
	m, err := e.facts.Module(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s: module facts: %w", path, err)
	}
	return m, nil
}

// decided is one decision with what the log needs of it.
type decided struct {
	res    Result
	ent    *cacheEntry
	in     Input // set for uncached decisions
	evalNS int64
}

// decide makes (or reuses) one decision without logging it, so that list
// filtering and fix suggestions can log one record per request.
func (e *Engine) decide(ctx context.Context, st *compiled, m *facts.Module, req Request, now time.Time, snap string) (decided, error) {
	rel, err := e.facts.Release(ctx, m, req.Version, st.maxCooldown)
	if err != nil {
		return decided{}, fmt.Errorf("%s@%s: release time: %w", req.Module, req.Version, err)
	}
	key := cacheKey{
		version:  req.Version,
		kind:     req.Kind,
		rev:      m.Rev,
		released: timeNS(rel.At),
		basis:    rel.Basis,
		infoTime: timeNS(rel.Time),
	}
	if st.byClient {
		key.client = req.Client.ID()
	}
	if st.cacheTTL > 0 {
		if ent := e.cache.get(req.Module, key, st.digest, snap, now.UnixNano()); ent != nil {
			e.metrics.hit.Inc()
			for _, c := range ent.counters {
				c.Inc()
			}
			res := ent.res
			res.Cached, res.DecisionID = true, ""
			return decided{res: res, ent: ent}, nil
		}
		e.metrics.miss.Inc()
	}
	start := time.Now()
	in, err := e.input(ctx, st, m, req, rel, now, snap)
	var res Result
	if err == nil {
		res, err = evaluate(ctx, st, &in)
	}
	if err != nil {
		return decided{in: in}, err
	}
	evalNS := time.Since(start).Nanoseconds()
	e.metrics.evalSeconds.Observe(float64(evalNS) / 1e9)
	counters := e.metrics.counters(req.Kind, &res)
	for _, c := range counters {
		c.Inc()
	}
	ent := &cacheEntry{res: res, digest: st.digest, snapshot: snap, counters: counters}
	if e.dlog != nil {
		ent.input, ent.result, ent.bundles = mustJSON(in), resultJSON(&res), bundlesJSON(st.bundles)
	}
	if st.cacheTTL > 0 {
		exp := now.Add(st.cacheTTL)
		if !res.ValidUntil.IsZero() && res.ValidUntil.Before(exp) {
			exp = res.ValidUntil
		}
		ent.expires = exp.UnixNano()
		e.cache.put(req.Module, key, ent)
	}
	return decided{res: res, ent: ent, in: in, evalNS: evalNS}, nil
}

// logDecision writes one decision's record.
func (e *Engine) logDecision(st *compiled, d decided, req Request, now time.Time, snap string) {
	if e.dlog == nil {
		return
	}
	d.res.DecisionID = e.ids.next()
	e.dlog.Decision(&declog.Decision{ID: d.res.DecisionID, Input: d.ent.input, Result: d.ent.result, Clean: cleanResult(&d.res),
		Bundles: d.ent.bundles, PolicyRevision: d.ent.digest, Time: now, Client: req.Client.ID(), VulnDB: snap,
		Cached: d.res.Cached, EvalNS: d.evalNS})
}

// logListing writes the one record of a list or @latest request.
func (e *Engine) logListing(q proxy.Query, verdicts []proxy.Verdict, chosen string) {
	if e.dlog == nil {
		return
	}
	st := e.state.Load()
	l := &declog.Listing{ID: e.ids.next(), Kind: string(q.Kind), Module: q.Module, Client: q.Client.ID(), Time: e.now(),
		Chosen: chosen, Bundles: bundlesJSON(st.bundles), PolicyRevision: st.digest, VulnDB: e.snapshot()}
	for _, v := range verdicts {
		addCandidate(l, v.Version, v.Decision)
	}
	e.dlog.Listing(l)
}

// Input gathers the facts for req as Decide would, for tools that show or
// store the input (policy eval --explain).
func (e *Engine) Input(ctx context.Context, req Request) (Input, error) {
	st := e.state.Load()
	m, err := e.module(ctx, req.Module)
	if err != nil {
		return Input{}, err
	}
	rel, err := e.facts.Release(ctx, m, req.Version, st.maxCooldown)
	if err != nil {
		return Input{}, err
	}
	return e.input(ctx, st, m, req, rel, e.now(), e.snapshot())
}

// Evaluate evaluates the policy on a complete input, without the cache, the
// decision log or metrics. in.Now must be set: rules never read the clock.
func (e *Engine) Evaluate(ctx context.Context, in Input) (Result, error) {
	if in.Now.IsZero() {
		return Result{}, errors.New("policy: Input.Now is not set")
	}
	return evaluate(ctx, e.state.Load(), &in)
}

func evaluate(ctx context.Context, st *compiled, in *Input) (Result, error) {
	rs, err := st.query.Eval(ctx, rego.EvalParsedInput(in.value()), rego.EvalTime(in.Now))
	if err != nil {
		return Result{}, fmt.Errorf("%s@%s: evaluating policy: %w", in.Module, in.Version, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Result{}, fmt.Errorf("%s@%s: evaluating policy: %s is undefined", in.Module, in.Version, DecisionPath)
	}
	doc, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return Result{}, fmt.Errorf("%s@%s: evaluating policy: %s is %T, want an object", in.Module, in.Version, DecisionPath, rs[0].Expressions[0].Value)
	}
	res := Result{Digest: st.digest, VulnDB: in.VulnDB}
	if res.Deny, err = violations(doc["deny"]); err == nil {
		if res.Warn, err = violations(doc["warn"]); err == nil {
			res.Audit, err = violations(doc["audit"])
		}
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s@%s: policy result: %w", in.Module, in.Version, err)
	}
	if n, ok := doc["valid_until_ns"].(json.Number); ok {
		if ns, err := n.Int64(); err == nil && ns > 0 {
			res.ValidUntil = time.Unix(0, ns).UTC()
		} else if f, err := n.Float64(); err == nil && f > 0 {
			res.ValidUntil = time.Unix(0, int64(f)).UTC()
		}
	}
	return res, nil
}

func violations(x any) ([]Violation, error) {
	arr, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("violation set is %T", x)
	}
	if len(arr) == 0 {
		return nil, nil
	}
	out := make([]Violation, 0, len(arr))
	for _, a := range arr {
		m, ok := a.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("violation is %T, want an object", a)
		}
		var v Violation
		v.Rule, _ = m["rule"].(string)
		v.Msg, _ = m["msg"].(string)
		v.Fix, _ = m["fix"].(string)
		if ids, ok := m["ids"].([]any); ok {
			for _, id := range ids {
				if s, ok := id.(string); ok {
					v.IDs = append(v.IDs, s)
				}
			}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Violation) int {
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Msg, b.Msg)
	})
	return out, nil
}

// idGen makes decision IDs: a random per-process prefix and a counter,
// unique without a syscall per decision.
type idGen struct {
	prefix string
	n      atomic.Uint64
}

func (g *idGen) init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	g.prefix = hex.EncodeToString(b[:]) + "-"
}

func (g *idGen) next() string {
	var buf [40]byte
	b := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(b, g.n.Add(1), 10))
}
