package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/api"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/upstream"
	"github.com/modgate/modgate/scanner/vulndb"
)

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error%s", s, yamlconf.DidYouMean(s, "debug", "info", "warn", "error"))
	}
	return l, nil
}

// loadServeConfig resolves the configuration of serve-like commands with
// [loadConfig]: defaults < the --config (or MODGATE_CONFIG) file <
// MODGATE_* variables < flags. Every problem is reported at once, as a
// usage error (exit status 2). Reloading the configuration means calling
// it again with the same arguments.
func loadServeConfig(ctx context.Context, app *App, name string, args []string) (*Config, goEnv, *flagSetResult, error) {
	fs := newFlagSet(app, name, "[flags]")
	cfg, ge, err := loadConfig(ctx, app, configPath(app, args), func(cfg *Config) (func(string) bool, error) {
		bindServeFlags(fs, cfg)
		if err := applyEnv(app, fs); err != nil {
			return nil, err
		}
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		return flagFields(fs), nil
	})
	if err != nil {
		return nil, ge, nil, usageConfigError(err)
	}
	// The policy as the engine will compile it: rule files, waiver files,
	// VEX documents, rule names. Its problems are the configuration's.
	if _, err := policy.Check(ctx, &cfg.Policy, policy.CheckOptions{}); err != nil {
		return nil, ge, nil, usageConfigError(cfg.LocatePolicy(err))
	}
	return cfg, ge, &flagSetResult{args: fs.Args()}, nil
}

// reloadPolicy re-reads the configuration as serve read it at start-up and
// switches the engine to its policy section (rules, lists, waivers, waiver
// files, VEX documents, modes) at once. On any problem the policy in force
// stays, and the error lists every problem as start-up would.
func (srv *server) reloadPolicy(ctx context.Context, app *App, args []string) error {
	cfg, _, _, err := loadServeConfig(ctx, app, "serve", args)
	if err != nil {
		return err
	}
	if err := srv.core.engine.Reload(ctx, &cfg.Policy); err != nil {
		return usageConfigError(cfg.LocatePolicy(err))
	}
	return nil
}

// usageConfigError makes the problems of a configuration a usage error
// (exit status 2) listing them one a line; errors that already carry an
// exit status are returned as they are.
func usageConfigError(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%w", err)}
}

type flagSetResult struct{ args []string }

// server is a wired modgate proxy server.
type server struct {
	handler http.Handler
	proxy   *proxy.Proxy
	core    *core
	logger  *slog.Logger
	logs    *bufferedWriter
}

// newServer wires the core (cache, facts, vulnerability database, policy)
// and the handlers. The proxy refuses to start with an invalid policy
// rather than failing open.
func newServer(ctx context.Context, app *App, cfg *Config, ge goEnv) (*server, error) {
	return newServerClock(ctx, app, cfg, ge, nil)
}

// newServerClock is newServer with an injected clock (nil means
// time.Now), so tests can move time for cooldowns and waivers.
func newServerClock(ctx context.Context, app *App, cfg *Config, ge goEnv, now func() time.Time) (*server, error) {
	level, _ := parseLevel(cfg.LogLevel)
	logw := newBufferedWriter(app.Stderr, 100*time.Millisecond)
	logger := (&App{Stderr: logw}).Logger(cfg.LogFormat == "json", level)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c, err := newCore(ctx, cfg, ge, coreOptions{logger: logger, now: now, registry: reg, stdout: app.Stdout})
	if err != nil {
		return nil, cfg.LocatePolicy(err)
	}
	p := &proxy.Proxy{Cache: c.cache, Facts: c.facts, Decider: c.decider, Logger: logger, Metrics: proxy.NewMetrics(reg)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		err := c.cache.Ready(r.Context())
		if err == nil {
			err = c.vulns.Ready()
		}
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	sumdb := &checksum.Passthrough{Verifier: c.verifier, Logger: logger}
	prefix := cfg.PathPrefix
	mux.Handle(prefix+"/sumdb/", http.StripPrefix(prefix, sumdb))
	mux.Handle(prefix+"/api/v1/", http.StripPrefix(prefix, &api.Handler{Decider: c.decider, Facts: c.facts}))
	mux.Handle(prefix+"/vulndb/", http.StripPrefix(prefix+"/vulndb", &vulndb.Handler{Source: c.vulns}))
	if prefix == "" {
		mux.Handle("/", p)
	} else {
		mux.Handle(prefix+"/", http.StripPrefix(prefix, p))
	}
	var h http.Handler = routeProxyFirst(mux, mux, prefix)
	if prefix == "" {
		h = routeProxyFirst(mux, p, prefix)
	}
	h = cfg.Server.Handler(h)
	if cfg.AccessLog {
		h = accessLog(logger, h)
	}
	return &server{handler: h, proxy: p, core: c, logger: logger, logs: logw}, nil
}

// routeProxyFirst sends module proxy requests (the only paths containing
// "/@v/" or ending in "/@latest": module paths cannot contain '@') straight
// to proxy, skipping the pattern mux on the hot path; everything else goes
// to mux.
func routeProxyFirst(mux, proxy http.Handler, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if len(path) > len(prefix) && strings.HasPrefix(path, prefix) && (strings.Contains(path, "/@v/") || strings.HasSuffix(path, "/@latest")) && !strings.HasPrefix(path[len(prefix):], "/sumdb/") {
			proxy.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func joinPatterns(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "," + b
}

func runServe(ctx context.Context, app *App, args []string) error {
	cfg, ge, _, err := loadServeConfig(ctx, app, "serve", args)
	if err != nil {
		return err
	}
	srv, err := newServer(ctx, app, cfg, ge)
	if err != nil {
		return err
	}
	defer srv.logs.Close()
	defer srv.core.close()
	go srv.core.vulns.Run(ctx)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := cfg.Server.Server(srv.handler, srv.logger)
	srv.logger.Info("modgate serving", "addr", "http://"+ln.Addr().String()+cfg.PathPrefix, "storage", cfg.StorageDir,
		"upstream", redactList(cfg.Upstream), "version", buildVersion())
	srv.logs.Flush()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// SIGHUP reloads the policy section of the configuration and every
	// file it names; a broken edit is logged and the policy in force
	// stays.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case err := <-errc:
			return err
		case <-hup:
			if err := srv.reloadPolicy(ctx, app, args); err != nil {
				srv.logger.Error("policy reload failed; keeping the policy in force", "err", err)
			} else {
				srv.logger.Info("policy reloaded", "digest", srv.core.engine.Digest())
			}
			srv.logs.Flush()
		case <-ctx.Done():
			done = true
		}
	}
	srv.logger.Info("shutting down; finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.core.cache.Wait()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	srv.logger.Info("stopped")
	return nil
}

// redactList hides credentials in an upstream list for logging.
func redactList(list string) string {
	entries, err := upstream.ParseList(list)
	if err != nil {
		return "(invalid)"
	}
	var parts []string
	for _, e := range entries {
		parts = append(parts, upstream.Redact(e.URL))
	}
	return strings.Join(parts, ",")
}

// accessLog logs one line per request.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rw, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rw.status),
			slog.Int64("bytes", rw.n), slog.Duration("dur", time.Since(start)), slog.String("remote", r.RemoteAddr))
	})
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wrote {
		c.status, c.wrote = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wrote = true
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// ReadFrom keeps sendfile(2) available to the proxy's file responses
// through this wrapper (io.Copy looks only at the outermost writer).
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	c.wrote = true
	n, err := io.Copy(c.ResponseWriter, r)
	c.n += n
	return n, err
}
