package checksum

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// direct reaches the database at its own URL, with the same retries
	// and redaction as upstream fetches.
	direct *upstream.Client

	// routeMu protects routed and viaUpstream.
	routeMu sync.Mutex
	// routed is set once the upstream has said definitively whether it
	// proxies the database; until then every request asks again.
	routed      bool
	viaUpstream bool

	// mu serializes WriteConfig's compare-and-swap.
	mu sync.Mutex
}

func newOps(v *Verifier) *ops {
	base := v.DB.URL
	if base == "" {
		base = "https://" + v.DB.Name
	}
	return &ops{v: v, direct: &upstream.Client{
		Entries: []upstream.Entry{{URL: base}}, HTTP: v.HTTP, Timeout: v.Timeout, Logger: v.Logger,
	}}
}

func (o *ops) timeout() time.Duration {
	if o.v.Timeout > 0 {
		return o.v.Timeout
	}
	return 30 * time.Second
}

// route decides how to reach the database, as the go command does: an
// explicit URL wins; otherwise the upstream is used if it answers
// /sumdb/<name>/supported, and the database is contacted directly if the
// upstream says not found (or lookups are off). Any other failure is
// returned and the question is asked again next time, so a transient
// upstream fault does not send modgate to the wrong route for good.
func (o *ops) route(ctx context.Context) (viaUpstream bool, err error) {
	if o.v.DB.URL != "" || o.v.Upstream == nil {
		return false, nil
	}
	o.routeMu.Lock()
	routed, via := o.routed, o.viaUpstream
	o.routeMu.Unlock()
	if routed {
		return via, nil
	}
	_, err = o.v.Upstream.FetchBytes(ctx, "sumdb/"+o.v.DB.Name+"/supported", upstream.Meta, maxRemote)
	switch {
	case err == nil:
		via = true
	case errors.Is(err, upstream.ErrNotFound), errors.Is(err, upstream.ErrOff):
		via = false
	default:
		return false, fmt.Errorf("asking the upstream whether it proxies checksum database %s: %w", o.v.DB.Name, err)
	}
	o.routeMu.Lock()
	o.routed, o.viaUpstream = true, via
	o.routeMu.Unlock()
	return via, nil
}

// Remote fetches a database path ("/latest", "/lookup/...", "/tile/...").
func (o *ops) Remote(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	via, err := o.route(ctx)
	if err != nil {
		return nil, err
	}
	rel := strings.TrimPrefix(path, "/")
	if via {
		return o.v.Upstream.FetchBytes(ctx, "sumdb/"+o.v.DB.Name+"/"+rel, upstream.Meta, maxRemote)
	}
	return o.direct.FetchBytes(ctx, rel, upstream.Meta, maxRemote)
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
