package checksum

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb"

	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

// maxRemote bounds one database answer (tiles are 8 KiB, lookups smaller).
const maxRemote = 1 << 20

// ops implements sumdb.ClientOps on top of storage and the upstream.
type ops struct {
	v *Verifier

	baseOnce sync.Once
	// viaUpstream is true when the upstream proxies the database.
	viaUpstream bool

	// mu serializes WriteConfig's compare-and-swap.
	mu sync.Mutex
}

func (o *ops) timeout() time.Duration {
	if o.v.Timeout > 0 {
		return o.v.Timeout
	}
	return 30 * time.Second
}

// initBase decides how to reach the database, as the go command does:
// an explicit URL wins; otherwise the upstream is used if it answers
// /sumdb/<name>/supported, else the database is contacted directly.
func (o *ops) initBase() {
	if o.v.DB.URL != "" || o.v.Upstream == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout())
	defer cancel()
	resp, err := o.v.Upstream.Get(ctx, "sumdb/"+o.v.DB.Name+"/supported", upstream.Meta)
	if err == nil {
		resp.Body.Close()
		o.viaUpstream = true
	}
}

// Remote fetches a database path ("/latest", "/lookup/...", "/tile/...").
func (o *ops) Remote(ctx context.Context, path string) ([]byte, error) {
	o.baseOnce.Do(o.initBase)
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	if o.viaUpstream {
		resp, err := o.v.Upstream.Get(ctx, "sumdb/"+o.v.DB.Name+path, upstream.Meta)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return readLimited(resp.Body)
	}
	base := o.v.DB.URL
	if base == "" {
		base = "https://" + o.v.DB.Name
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	c := o.v.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &upstream.Error{URL: redactURL(base + path), Status: resp.StatusCode}
	}
	return readLimited(resp.Body)
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRemote+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRemote {
		return nil, errors.New("checksum database answer too large")
	}
	return data, nil
}

func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "xxxxx" + s[i:]
		}
	}
	return s
}

func (o *ops) ReadRemote(path string) ([]byte, error) {
	return o.Remote(context.Background(), path)
}

// State is kept per database name and key: a database that changes its
// key (or a test database reusing a name) starts from an empty tree
// instead of failing to verify the old one's signed notes.
func (o *ops) prefix() string {
	h := sha256.Sum256([]byte(o.v.DB.Key))
	return "sumdb/" + o.v.DB.Name + "/" + hex.EncodeToString(h[:4])
}

func (o *ops) configKey(file string) string { return o.prefix() + "/config/" + file }
func (o *ops) cacheKey(file string) string  { return o.prefix() + "/cache/" + file }

func (o *ops) read(key string) ([]byte, error) {
	ctx := context.Background()
	b, err := o.v.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return io.ReadAll(b)
}

func (o *ops) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.v.DB.Key), nil
	}
	if o.v.Store == nil {
		return nil, nil
	}
	data, err := o.read(o.configKey(file))
	if storage.IsNotExist(err) {
		return nil, nil // start from an empty tree
	}
	return data, err
}

func (o *ops) WriteConfig(file string, old, new []byte) error {
	if o.v.Store == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cur, err := o.ReadConfig(file)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, old) {
		return sumdb.ErrWriteConflict
	}
	return o.v.Store.Put(context.Background(), o.configKey(file), bytes.NewReader(new))
}

func (o *ops) ReadCache(file string) ([]byte, error) {
	if o.v.Store == nil {
		return nil, errors.New("no cache")
	}
	return o.read(o.cacheKey(file))
}

func (o *ops) WriteCache(file string, data []byte) {
	if o.v.Store == nil {
		return
	}
	if err := o.v.Store.Put(context.Background(), o.cacheKey(file), bytes.NewReader(data)); err != nil {
		o.logger().Warn("checksum database cache write failed", "file", file, "err", err)
	}
}

func (o *ops) Log(msg string) { o.logger().Info("checksum database", "msg", msg) }

func (o *ops) SecurityError(msg string) {
	// The client returns ErrSecurity to the caller, which fails the
	// request; the proxy keeps running for other modules.
	o.logger().Error("checksum database SECURITY ERROR", "msg", msg)
}

func (o *ops) logger() *slog.Logger {
	if o.v.Logger != nil {
		return o.v.Logger
	}
	return slog.Default()
}
