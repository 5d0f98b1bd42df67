// Package limits owns what one client may cost modgate's HTTP server: how
// long it may take to send a request and to accept the answer, how large
// a request may be, and how many requests it may have in flight.
//
// Module zips can be hundreds of megabytes, so the server has no total
// write deadline; instead every write must make progress within
// WriteTimeout (a per-write deadline), which drops stalled readers without
// cutting off slow but steady ones. Request bodies get a read deadline of
// their own, because net/http's ReadTimeout would also end long responses
// (it cancels the request once its deadline passes).
package limits

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
)

// Config holds the limits; its zero fields take the defaults of
// [Defaults] when a server is built.
type Config struct {
	// ReadHeaderTimeout bounds receiving a request's line and headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// BodyTimeout bounds receiving a request's body.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// WriteTimeout is how long one write of an answer may make no
	// progress before the connection is dropped.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's line and headers together.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxURLBytes bounds the request target; longer ones get 414.
	MaxURLBytes int `yaml:"max_url_bytes"`
	// MaxPerClient bounds the requests one client address has in
	// flight; further requests wait up to QueueTimeout for a slot, then
	// get 429. Negative means no bound.
	MaxPerClient int `yaml:"max_requests_per_client"`
	// QueueTimeout is how long a request over MaxPerClient waits.
	QueueTimeout time.Duration `yaml:"client_queue_timeout"`
	// TrustedProxies lists the addresses (CIDR or IP) of reverse proxies
	// whose X-Forwarded-For names the client; requests from elsewhere
	// are counted against their own address.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Defaults returns the limits a server has without configuration: ample
// for the go command (which keeps at most a few dozen requests in flight
// per process) and tight enough that a slow or stuck client cannot hold
// the server's resources for long.
func Defaults() Config {
	return Config{
		ReadHeaderTimeout: 10 * time.Second,
		BodyTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		MaxURLBytes:       8 << 10,
		MaxPerClient:      256,
		QueueTimeout:      10 * time.Second,
	}
}

// withDefaults fills zero fields from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&c.BodyTimeout, d.BodyTimeout)
	set(&c.WriteTimeout, d.WriteTimeout)
	set(&c.IdleTimeout, d.IdleTimeout)
	set(&c.QueueTimeout, d.QueueTimeout)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if c.MaxURLBytes == 0 {
		c.MaxURLBytes = d.MaxURLBytes
	}
	if c.MaxPerClient == 0 {
		c.MaxPerClient = d.MaxPerClient
	}
	return c
}

// Validate returns every problem, as yamlconf field errors named relative
// to the section (prefix them with yamlconf.Prefix).
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout}, {"body_timeout", c.BodyTimeout},
		{"write_timeout", c.WriteTimeout}, {"idle_timeout", c.IdleTimeout}, {"client_queue_timeout", c.QueueTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, yamlconf.Errorf(d.field, "must not be negative, got %v", d.v))
		}
	}
	if c.MaxHeaderBytes < 0 {
		errs = append(errs, yamlconf.Errorf("max_header_bytes", "must not be negative, got %d", c.MaxHeaderBytes))
	}
	if c.MaxURLBytes < 0 {
		errs = append(errs, yamlconf.Errorf("max_url_bytes", "must not be negative, got %d", c.MaxURLBytes))
	}
	if _, err := parseNets(c.TrustedProxies); err != nil {
		errs = append(errs, yamlconf.Errorf("trusted_proxies", "%w", err))
	}
	return errors.Join(errs...)
}

// Server returns an http.Server serving h with the connection limits
// (header timeout, idle timeout, header size); h should be wrapped with
// [Config.Handler] for the per-request ones. c must be valid.
func (c Config) Server(h http.Handler, logger *slog.Logger) *http.Server {
	c = c.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Handler wraps h with the per-request limits: URL size, per-client
// concurrency, body and per-write deadlines. c must be valid.
func (c Config) Handler(h http.Handler) http.Handler {
	c = c.withDefaults()
	nets, _ := parseNets(c.TrustedProxies)
	var clients *clientLimiter
	if c.MaxPerClient > 0 {
		clients = newClientLimiter(c.MaxPerClient, c.QueueTimeout)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > c.MaxURLBytes {
			plain(w, http.StatusRequestURITooLong, "request URL longer than the server's limit of "+strconv.Itoa(c.MaxURLBytes)+" bytes")
			return
		}
		if clients != nil {
			addr := clientAddr(r, nets)
			release, ok := clients.acquire(r.Context(), addr)
			if !ok {
				w.Header().Set("Retry-After", "1")
				plain(w, http.StatusTooManyRequests, "too many concurrent requests from "+addr+" (limit "+strconv.Itoa(c.MaxPerClient)+"); retry shortly")
				return
			}
			defer release()
		}
		rc := http.NewResponseController(w)
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			rc.SetReadDeadline(time.Now().Add(c.BodyTimeout))
			r.Body = &bodyReader{ReadCloser: r.Body, rc: rc}
		}
		h.ServeHTTP(newDeadlineWriter(w, rc, c.WriteTimeout), r)
	})
}

// plain writes a short text/plain error.
func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "close")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

// parseNets parses CIDRs and bare IPs.
func parseNets(list []string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	var errs []error
	for _, s := range list {
		if _, n, err := net.ParseCIDR(s); err == nil {
			nets = append(nets, n)
			continue
		}
		ip := net.ParseIP(s)
		if ip == nil {
			errs = append(errs, errors.New(s+" is neither an IP address nor a CIDR"))
			continue
		}
		bits := 8 * len(ip.To16())
		if ip.To4() != nil {
			ip, bits = ip.To4(), 32
		}
		nets = append(nets, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return nets, errors.Join(errs...)
}
