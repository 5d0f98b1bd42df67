package proxytest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Fault is a failure injected for one URL path with [Upstream.SetFault].
type Fault int

const (
	// FaultNone serves normally; setting it clears a fault.
	FaultNone Fault = iota
	// FaultStatus500 answers 500 Internal Server Error.
	FaultStatus500
	// FaultStatus404 answers 404 Not Found, even for content that exists.
	FaultStatus404
	// FaultHang sends nothing and blocks until the client gives up (the
	// request context ends) or the Upstream is closed.
	FaultHang
	// FaultReset sends the headers (with the full Content-Length) and half
	// of the body, then resets the TCP connection (RST).
	FaultReset
	// FaultTruncate sends the headers (with the full Content-Length) and
	// half of the body, then closes the connection cleanly (FIN).
	FaultTruncate
	// FaultTamper serves changed but well-formed content, so only hash
	// verification can catch it: for .zip a different valid module zip for
	// the same module@version (one extra file); for .mod the go.mod with a
	// comment appended (same module line); for .info and @latest a Time
	// one year later; for list an extra version "v99.99.99"; for anything
	// else (e.g. checksum database responses) one byte flipped.
	FaultTamper
	// FaultSlow streams the body in small chunks (see [WithSlow]) with the
	// full Content-Length, aborting when the client gives up.
	FaultSlow
)

var faultNames = []string{"none", "status500", "status404", "hang", "reset", "truncate", "tamper", "slow"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

type faultState struct {
	f         Fault
	remaining int // requests left to fault; 0 means until cleared
}

// SetFault injects f for every request to urlPath until cleared with
// FaultNone. urlPath is an exact URL path (e.g.
// "/example.com/hello/@v/v1.2.0.zip" or "/sumdb/sum.test.local/latest"),
// or a prefix followed by "*" ("/example.com/hello/*", or "*" for every
// path: an outage). An exact path wins over patterns, and a longer
// pattern over a shorter one.
func (u *Upstream) SetFault(urlPath string, f Fault) { u.SetFaultN(urlPath, f, 0) }

// SetFaultN injects f for the next n requests matching urlPath (see
// [Upstream.SetFault]), after which they are served normally again, as
// for retry tests. n <= 0 means until cleared.
func (u *Upstream) SetFaultN(urlPath string, f Fault, n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if f == FaultNone {
		delete(u.faults, urlPath)
		return
	}
	u.faults[urlPath] = faultState{f: f, remaining: max(n, 0)}
}

// Block makes requests to exactly urlPath wait (counted, before any
// fault) until release is called, the client gives up or the Upstream
// closes; released requests are then served normally. It lets a test
// line up concurrent requests, e.g. to check that a proxy deduplicates
// identical upstream fetches. release is idempotent.
func (u *Upstream) Block(urlPath string) (release func()) {
	ch := make(chan struct{})
	u.mu.Lock()
	u.blocks[urlPath] = ch
	u.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			if u.blocks[urlPath] == ch {
				delete(u.blocks, urlPath)
			}
			u.mu.Unlock()
			close(ch)
		})
	}
}

// admit counts a request to p, waits while p is blocked, and returns the
// fault to apply to it. ok is false if the wait ended without a release.
func (u *Upstream) admit(r *http.Request) (f Fault, ok bool) {
	p := r.URL.Path
	u.mu.Lock()
	u.counts[p]++
	gate := u.blocks[p]
	u.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return FaultNone, false
		case <-u.done:
			return FaultNone, false
		}
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	key, found := p, false
	if _, found = u.faults[p]; !found {
		for k := range u.faults {
			if prefix, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(p, prefix) && (!found || len(k) > len(key)) {
				key, found = k, true
			}
		}
	}
	if !found {
		return FaultNone, true
	}
	fs := u.faults[key]
	if fs.remaining > 0 {
		fs.remaining--
		if fs.remaining == 0 {
			delete(u.faults, key)
		} else {
			u.faults[key] = fs
		}
	}
	return fs.f, true
}

// content is a response body: in memory (data) or a file on disk.
type content struct {
	ctype string
	data  []byte
	file  string
}

const (
	ctypeText = "text/plain; charset=UTF-8"
	ctypeJSON = "application/json"
	ctypeZip  = "application/zip"
)

// ServeHTTP serves the module proxy protocol and, under
// /sumdb/<name>/, the checksum database.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		u.mu.Lock()
		u.counts[p]++
		u.mu.Unlock()
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	fault, ok := u.admit(r)
	if !ok {
		dropConn(w)
		return
	}
	switch fault {
	case FaultStatus500:
		http.Error(w, "injected fault: internal server error", http.StatusInternalServerError)
		return
	case FaultStatus404:
		http.Error(w, "injected fault: not found", http.StatusNotFound)
		return
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-u.done:
			dropConn(w)
		}
		return
	}

	if rest, ok := strings.CutPrefix(p, "/sumdb/"); ok {
		u.serveSumDB(w, r, rest, fault)
		return
	}
	c, status, msg := u.resolve(p, fault == FaultTamper)
	if status != http.StatusOK {
		http.Error(w, msg, status)
		return
	}
	u.write(w, r, c, fault)
}

func (u *Upstream) serveSumDB(w http.ResponseWriter, r *http.Request, rest string, fault Fault) {
	name, sub, _ := strings.Cut(rest, "/")
	if name != u.SumDBName {
		http.Error(w, "unknown checksum database "+name, http.StatusNotFound)
		return
	}
	if sub == "supported" {
		u.write(w, r, content{ctype: ctypeText}, fault)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + sub
	r2.URL.RawPath = ""
	if fault == FaultNone {
		u.dbh.ServeHTTP(w, r2)
		return
	}
	rec := httptest.NewRecorder()
	u.dbh.ServeHTTP(rec, r2)
	if rec.Code != http.StatusOK {
		http.Error(w, rec.Body.String(), rec.Code)
		return
	}
	c := content{ctype: rec.Header().Get("Content-Type"), data: rec.Body.Bytes()}
	if fault == FaultTamper {
		c.data = flipByte(c.data)
	}
	u.write(w, r, c, fault)
}

// resolve maps a proxy URL path to its content, or to an error status
// and message.
func (u *Upstream) resolve(p string, tamper bool) (content, int, string) {
	var escPath, file string
	if i := strings.Index(p, "/@v/"); i > 0 {
		escPath, file = p[1:i], p[i+len("/@v/"):]
	} else if s, ok := strings.CutSuffix(p, "/@latest"); ok && len(s) > 1 {
		escPath, file = s[1:], "@latest"
	} else {
		return content{}, http.StatusNotFound, "not found: " + p
	}
	modPath, err := module.UnescapePath(escPath)
	if err != nil {
		return content{}, http.StatusNotFound, "not found: invalid module path: " + err.Error()
	}

	u.mu.Lock()
	versions := u.mods[modPath]
	var list []*entry
	for _, e := range versions {
		list = append(list, e)
	}
	queries := u.queries[modPath]
	var e *entry
	escVer, ext := "", ""
	if file != "list" && file != "@latest" {
		ext = filepath.Ext(file)
		escVer = strings.TrimSuffix(file, ext)
	}
	ver, verr := module.UnescapeVersion(escVer)
	if escVer != "" && verr == nil {
		e = versions[ver]
		if e == nil && ext == ".info" {
			if v, ok := queries[ver]; ok {
				e = versions[v]
			}
		}
	}
	u.mu.Unlock()

	if len(list) == 0 {
		return content{}, http.StatusNotFound, "not found: unknown module " + modPath
	}
	switch file {
	case "list":
		var vs []string
		for _, e := range list {
			if !module.IsPseudoVersion(e.m.Version) {
				vs = append(vs, e.m.Version)
			}
		}
		slices.SortFunc(vs, compareSemver)
		if tamper {
			vs = append(vs, "v99.99.99")
		}
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(v + "\n")
		}
		return content{ctype: ctypeText, data: []byte(b.String())}, http.StatusOK, ""
	case "@latest":
		return u.infoContent(latest(list), tamper)
	}
	if escVer == "" || verr != nil {
		return content{}, http.StatusNotFound, "not found: invalid version in " + file
	}
	if e == nil {
		return content{}, http.StatusNotFound, fmt.Sprintf("not found: %s@%s: unknown revision %s", modPath, ver, ver)
	}
	switch ext {
	case ".info":
		return u.infoContent(e, tamper)
	case ".mod":
		data := e.mod
		if tamper {
			data = append(slices.Clone(data), "\n// tampered by proxytest\n"...)
		}
		return content{ctype: ctypeText, data: data}, http.StatusOK, ""
	case ".zip":
		if !tamper {
			return content{ctype: ctypeZip, file: e.zipPath}, http.StatusOK, ""
		}
		zp, err := u.tamperedZip(e)
		if err != nil {
			return content{}, http.StatusInternalServerError, err.Error()
		}
		return content{ctype: ctypeZip, file: zp}, http.StatusOK, ""
	}
	return content{}, http.StatusNotFound, "not found: " + p
}

func (u *Upstream) infoContent(e *entry, tamper bool) (content, int, string) {
	data := e.info
	if tamper {
		var err error
		data, err = infoJSON(e.m.Version, e.m.Time.AddDate(1, 0, 0), e.m.Origin)
		if err != nil {
			return content{}, http.StatusInternalServerError, err.Error()
		}
	}
	return content{ctype: ctypeJSON, data: data}, http.StatusOK, ""
}

// latest picks what @latest reports: the highest release, else the
// highest pre-release, else the highest pseudo-version.
func latest(list []*entry) *entry {
	var best [3]*entry // release, pre-release, pseudo
	for _, e := range list {
		v := e.m.Version
		k := 0
		switch {
		case module.IsPseudoVersion(v):
			k = 2
		case semver.Prerelease(v) != "":
			k = 1
		}
		if best[k] == nil || compareSemver(v, best[k].m.Version) > 0 {
			best[k] = e
		}
	}
	for _, e := range best {
		if e != nil {
			return e
		}
	}
	return nil
}

// tamperedZip returns a zip for e's module@version that is valid but
// differs from the real one: the same entries plus tampered.txt. It is
// built once, on first use.
func (u *Upstream) tamperedZip(e *entry) (string, error) {
	e.tamperOnce.Do(func() {
		escPath, _ := module.EscapePath(e.m.Path)
		escVer, _ := module.EscapeVersion(e.m.Version)
		dst := filepath.Join(u.dir, "tampered", filepath.FromSlash(escPath), escVer+".zip")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			e.tamperErr = err
			return
		}
		e.tamperErr = copyZipWithExtra(e.zipPath, dst, e.m.String()+"/tampered.txt")
		e.tamperZip = dst
	})
	return e.tamperZip, e.tamperErr
}

func copyZipWithExtra(src, dst, extraName string) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		if err := zw.Copy(zf); err != nil {
			f.Close()
			return err
		}
	}
	w, err := zw.Create(extraName)
	if err == nil {
		_, err = io.WriteString(w, "this file was injected by proxytest FaultTamper\n")
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("build tampered zip: %w", err)
	}
	return os.Rename(f.Name(), dst)
}

// dropConn closes the client connection without a response, for
// requests abandoned at Close: returning from the handler instead would
// send an empty 200.
func dropConn(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

func flipByte(b []byte) []byte {
	b = slices.Clone(b)
	if len(b) > 0 {
		b[len(b)/2] ^= 0x01
	}
	return b
}

// write sends c, applying a transport-level fault (reset, truncate, slow).
func (u *Upstream) write(w http.ResponseWriter, r *http.Request, c content, fault Fault) {
	w.Header().Set("Content-Type", c.ctype)
	if c.file != "" && (fault == FaultNone || fault == FaultTamper) {
		f, err := os.Open(c.file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.ServeContent(w, r, "", fi.ModTime(), f)
		return
	}

	var body io.Reader
	var size int64
	if c.file != "" {
		f, err := os.Open(c.file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body, size = f, fi.Size()
	} else {
		body, size = bytes.NewReader(c.data), int64(len(c.data))
	}
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead && fault != FaultReset && fault != FaultTruncate {
		return
	}

	switch fault {
	case FaultReset, FaultTruncate:
		if r.Method != http.MethodHead {
			io.CopyN(w, body, size/2)
		}
		http.NewResponseController(w).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return // the handler returning ends the response instead
		}
		if tc, ok := conn.(*net.TCPConn); ok && fault == FaultReset {
			tc.SetLinger(0) // close sends RST instead of FIN
		}
		conn.Close()
	case FaultSlow:
		rc := http.NewResponseController(w)
		buf := make([]byte, u.cfg.slowChunk)
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			n, err := body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				if rc.Flush() != nil {
					return
				}
			}
			if err != nil {
				return
			}
			t.Reset(u.cfg.slowInterval)
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-u.done:
				return
			}
		}
	default:
		io.Copy(w, body)
	}
}
