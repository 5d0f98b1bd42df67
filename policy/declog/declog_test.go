package declog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// counter is a Counter for tests.
type counter struct{ n atomic.Int64 }

func (c *counter) Inc() { c.n.Add(1) }

// seq returns a Rand that yields vs in turn, then repeats the last.
func seq(vs ...float64) func() float64 {
	var mu sync.Mutex
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := vs[0]
		if len(vs) > 1 {
			vs = vs[1:]
		}
		return v
	}
}

func ptr[T any](v T) *T { return &v }

// decodeLines parses every line of data, failing the test on any that is
// not a complete JSON object.
func decodeLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("log does not end with a newline: %q", data)
	}
	return out
}

func TestLogRecordShapes(t *testing.T) {
	var buf bytes.Buffer
	l, err := Open(Options{Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	bundles := []byte(`{"modgate":{"revision":"sha256:abc"}}`)
	l.Decision(&Decision{ID: "p-1", Input: []byte(`{"module":"example.com/m","version":"v1.0.1"}`),
		Result: []byte(`{"allowed":false,"deny":[{"rule":"retracted"}],"warn":[],"audit":[]}`), Bundles: bundles,
		PolicyRevision: "sha256:abc", Time: t0, Client: "alice \"a\"\n", VulnDB: "snap", EvalNS: 1234})
	l.Decision(&Decision{ID: "p-2", Input: []byte(`{}`), Result: []byte(`{"allowed":true}`), Clean: true, Cached: true, Time: t0, EvalNS: 99})
	l.Decision(&Decision{ID: "p-3", Input: []byte(`{}`), Err: errors.New("facts: boom"), Time: t0})
	l.Listing(&Listing{ID: "p-4", Kind: KindList, Module: "example.com/m", Client: "bob", Time: t0,
		Allowed: []string{"v1.0.0", "v1.2.0"}, Denied: []Candidate{{"v1.3.0", []string{"cooldown", "licenses"}}},
		Audit: []Candidate{{"v1.2.0", []string{"licenses"}}}, Bundles: bundles, PolicyRevision: "sha256:abc", VulnDB: "snap", EvalNS: 7})
	l.Listing(&Listing{ID: "p-5", Kind: KindLatest, Module: "example.com/m", Time: t0, Allowed: []string{"v1.0.0"}, Chosen: "v1.0.0"})
	l.Listing(&Listing{ID: "p-6", Kind: KindLatest, Module: "example.com/m", Time: t0, Denied: []Candidate{{"v1.0.0", []string{"cooldown"}}}})

	want := []string{
		`{"decision_id":"p-1","path":"modgate/decision","input":{"module":"example.com/m","version":"v1.0.1"},"result":{"allowed":false,"deny":[{"rule":"retracted"}],"warn":[],"audit":[]},"bundles":{"modgate":{"revision":"sha256:abc"}},"policy_revision":"sha256:abc","timestamp":"2025-01-02T03:04:05.6Z","requested_by":"alice \"a\"\n","vulndb_snapshot":"snap","sample_rate":1,"metrics":{"timer_modgate_decide_ns":1234}}`,
		`{"decision_id":"p-2","path":"modgate/decision","input":{},"result":{"allowed":true},"policy_revision":"","timestamp":"2025-01-02T03:04:05.6Z","requested_by":"","vulndb_snapshot":"","sample_rate":1,"cached":true}`,
		`{"decision_id":"p-3","path":"modgate/decision","input":{},"error":"facts: boom","policy_revision":"","timestamp":"2025-01-02T03:04:05.6Z","requested_by":"","vulndb_snapshot":"","sample_rate":1}`,
		`{"decision_id":"p-4","kind":"list","path":"modgate/decision","module":"example.com/m","candidates":{"allowed":["v1.0.0","v1.2.0"],"denied":[{"version":"v1.3.0","rules":["cooldown","licenses"]}],"audit":[{"version":"v1.2.0","rules":["licenses"]}],"warn":[]},"bundles":{"modgate":{"revision":"sha256:abc"}},"policy_revision":"sha256:abc","timestamp":"2025-01-02T03:04:05.6Z","requested_by":"bob","vulndb_snapshot":"snap","sample_rate":1,"metrics":{"timer_modgate_decide_ns":7}}`,
		`{"decision_id":"p-5","kind":"latest","path":"modgate/decision","module":"example.com/m","candidates":{"allowed":["v1.0.0"],"denied":[],"audit":[],"warn":[]},"chosen":"v1.0.0","policy_revision":"","timestamp":"2025-01-02T03:04:05.6Z","requested_by":"","vulndb_snapshot":"","sample_rate":1}`,
		`{"decision_id":"p-6","kind":"latest","path":"modgate/decision","module":"example.com/m","candidates":{"allowed":[],"denied":[{"version":"v1.0.0","rules":["cooldown"]}],"audit":[],"warn":[]},"chosen":"","policy_revision":"","timestamp":"2025-01-02T03:04:05.6Z","requested_by":"","vulndb_snapshot":"","sample_rate":1}`,
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("log has %d lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
		if !json.Valid([]byte(got[i])) {
			t.Errorf("record %d is not valid JSON: %s", i+1, got[i])
		}
	}
}

// jsonString is encoding/json's encoding of s, without HTML escaping.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestLogAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "ctl\x00\x01\x1f\t\r\n\b\f", "héllo wörld ✓", "bad\xffutf8\xc3", "\xe2\x80", "line\u2028sep\u2029", "<html>&amp;"} {
		if got, want := string(appendString(nil, s)), jsonString(s); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzLogAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, s)), jsonString(s); got != want {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestLogSampling(t *testing.T) {
	tests := []struct {
		name      string
		rate      *float64
		rand      []float64
		decisions []Decision
		listings  []Listing
		want      []string // decision IDs written, with their sample_rate
		sampled   int64
	}{
		{
			name:      "default keeps all",
			decisions: []Decision{{ID: "a", Clean: true}, {ID: "b", Clean: true}},
			want:      []string{"a@1", "b@1"},
		},
		{
			name:      "allowed sampled, denials kept",
			rate:      ptr(0.25),
			rand:      []float64{0.1, 0.9, 0.3, 0.2},
			decisions: []Decision{{ID: "kept", Clean: true}, {ID: "dropped", Clean: true}, {ID: "deny"}, {ID: "dropped2", Clean: true}, {ID: "kept2", Clean: true}},
			want:      []string{"kept@0.25", "deny@1", "kept2@0.25"},
			sampled:   2,
		},
		{
			name:      "errors always kept",
			rate:      ptr(0.0),
			rand:      []float64{0},
			decisions: []Decision{{ID: "err", Clean: true, Err: errors.New("x")}, {ID: "clean", Clean: true}},
			want:      []string{"err@1"},
			sampled:   1,
		},
		{
			name: "listings",
			rate: ptr(0.5),
			rand: []float64{0.7, 0.4},
			listings: []Listing{
				{ID: "clean-dropped", Kind: KindList, Allowed: []string{"v1"}},
				{ID: "denied", Kind: KindList, Denied: []Candidate{{"v2", []string{"cooldown"}}}},
				{ID: "audit", Kind: KindLatest, Audit: []Candidate{{"v2", []string{"cooldown"}}}},
				{ID: "warn", Kind: KindLatest, Warn: []Candidate{{"v2", []string{"pseudo"}}}},
				{ID: "err", Kind: KindList, Err: errors.New("x")},
				{ID: "clean-kept", Kind: KindList, Allowed: []string{"v1"}},
			},
			want:    []string{"denied@1", "audit@1", "warn@1", "err@1", "clean-kept@0.5"},
			sampled: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var sampled counter
			opts := Options{Writer: &buf, SampleAllowed: tt.rate, SampledOut: &sampled}
			if tt.rand != nil {
				opts.Rand = seq(tt.rand...)
			} else {
				opts.Rand = func() float64 { t.Fatal("Rand called with sampling off"); return 0 }
			}
			l, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.decisions {
				l.Decision(&tt.decisions[i])
			}
			for i := range tt.listings {
				l.Listing(&tt.listings[i])
			}
			var got []string
			for _, m := range decodeLines(t, buf.Bytes()) {
				got = append(got, fmt.Sprintf("%v@%v", m["decision_id"], m["sample_rate"]))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("records = %v, want %v", got, tt.want)
			}
			if n := sampled.n.Load(); n != tt.sampled {
				t.Errorf("sampled out = %d, want %d", n, tt.sampled)
			}
		})
	}
}

func TestLogOpenOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		opts    Options
		wantNil bool
		wantErr string
	}{
		{Options{}, true, ""},
		{Options{Path: "-", Stdout: &bytes.Buffer{}}, false, ""},
		{Options{Path: filepath.Join(dir, "d.jsonl"), MaxSize: 10}, false, ""},
		{Options{Path: "-", SampleAllowed: ptr(1.5)}, false, "sample rate 1.5"},
		{Options{Path: "-", SampleAllowed: ptr(-0.1)}, false, "sample rate -0.1"},
		{Options{Path: "-", MaxSize: -1}, false, "must not be negative"},
		{Options{Path: filepath.Join(dir, "missing", "d.jsonl")}, false, "opening decision log"},
	}
	for _, tt := range tests {
		l, err := Open(tt.opts)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open(%+v) = %v, want error containing %q", tt.opts, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("Open(%+v) = %v", tt.opts, err)
		case (l == nil) != tt.wantNil:
			t.Errorf("Open(%+v) = %v, want nil %v", tt.opts, l, tt.wantNil)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	var nilLog *Log
	nilLog.Decision(&Decision{ID: "x"}) // a nil Log discards
	nilLog.Listing(&Listing{ID: "x"})
}

func TestLogStdoutAndClose(t *testing.T) {
	var out bytes.Buffer
	l, err := Open(Options{Path: "-", Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	l.Decision(&Decision{ID: "before"})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Decision(&Decision{ID: "after"}) // dropped, not a crash
	if got := decodeLines(t, out.Bytes()); len(got) != 1 || got[0]["decision_id"] != "before" {
		t.Errorf("stdout = %q, want only the record written before Close", out.String())
	}
}

// readAll returns the records of the log at path and its backups, oldest
// first, checking each file is within limit (unless it holds one record).
func readAll(t *testing.T, path string, backups int, limit int64) (ids []string, files int) {
	t.Helper()
	for i := backups + 1; i >= 0; i-- {
		name := path
		if i > 0 {
			name = BackupName(path, i)
		}
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if i == backups+1 {
			t.Errorf("%s exists, want at most %d backups", name, backups)
		}
		files++
		lines := decodeLines(t, data)
		if limit > 0 && int64(len(data)) > limit && len(lines) > 1 {
			t.Errorf("%s has %d bytes in %d records, want at most %d", name, len(data), len(lines), limit)
		}
		for _, m := range lines {
			ids = append(ids, m["decision_id"].(string))
		}
	}
	return ids, files
}

func TestLogRotationKeepsEveryRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	const writers, each, limit, backups = 8, 150, 2048, 1000
	var rotations, errs counter
	l, err := Open(Options{Path: path, MaxSize: limit, MaxBackups: backups, Rotations: &rotations, Errors: &errs})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if i%3 == 0 {
					l.Listing(&Listing{ID: id, Kind: KindList, Module: "example.com/m", Time: t0,
						Allowed: []string{"v1.0.0", "v1.1.0"}, Denied: []Candidate{{"v1.2.0", []string{"cooldown"}}}})
				} else {
					l.Decision(&Decision{ID: id, Input: []byte(`{"module":"example.com/m","version":"v1.0.0"}`),
						Result: []byte(`{"allowed":true,"deny":[],"warn":[],"audit":[]}`), Clean: true, Time: t0})
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ids, files := readAll(t, path, backups, limit)
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for w := range writers {
		for i := range each {
			if id := fmt.Sprintf("w%d-%d", w, i); seen[id] != 1 {
				t.Errorf("record %s found %d times, want once", id, seen[id])
			}
		}
	}
	if len(ids) != writers*each {
		t.Errorf("found %d records, want %d", len(ids), writers*each)
	}
	if n := rotations.n.Load(); n < 10 || int(n) != files-1 {
		t.Errorf("%d rotations for %d files, want one per backup and at least 10", n, files)
	}
	if n := errs.n.Load(); n != 0 {
		t.Errorf("%d errors", n)
	}
}

func TestLogRotationBackups(t *testing.T) {
	tests := []struct {
		name       string
		maxBackups int
		wantFiles  int
		records    int
	}{
		{"three", 3, 4, 40},
		{"one", 1, 2, 40},
		{"default", 0, DefaultMaxBackups + 1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "decisions.jsonl")
			// A backup beyond the limit, left by a larger setting, goes.
			keep := tt.maxBackups
			if keep == 0 {
				keep = DefaultMaxBackups
			}
			stale := BackupName(path, keep+1)
			if err := os.WriteFile(stale, []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := Open(Options{Path: path, MaxSize: 300, MaxBackups: tt.maxBackups})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.records {
				l.Decision(&Decision{ID: fmt.Sprintf("%03d", i), Time: t0})
			}
			l.Close()
			ids, files := readAll(t, path, keep, 300)
			if files != tt.wantFiles {
				t.Errorf("%d files, want %d", files, tt.wantFiles)
			}
			// The kept records are the newest, in order, without gaps.
			for i, id := range ids {
				if want := fmt.Sprintf("%03d", tt.records-len(ids)+i); id != want {
					t.Fatalf("records %v: want the newest %d in order", ids, len(ids))
				}
			}
		})
	}
}

func TestLogRotationOversizedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	l, err := Open(Options{Path: path, MaxSize: 200, MaxBackups: 5})
	if err != nil {
		t.Fatal(err)
	}
	big := []byte(`{"module":"` + strings.Repeat("x", 500) + `"}`)
	l.Decision(&Decision{ID: "small", Time: t0})
	l.Decision(&Decision{ID: "big", Input: big, Time: t0})
	l.Decision(&Decision{ID: "after", Time: t0})
	l.Close()
	ids, files := readAll(t, path, 5, 200)
	if !slices.Equal(ids, []string{"small", "big", "after"}) || files != 3 {
		t.Errorf("records %v in %d files, want small, big, after in 3", ids, files)
	}
}

func TestLogRotationExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	old := `{"decision_id":"old","path":"modgate/decision","input":{}}` + "\n"
	if err := os.WriteFile(path, []byte(strings.Repeat(old, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Path: path, MaxSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	l.Decision(&Decision{ID: "new", Time: t0})
	l.Close()
	data, _ := os.ReadFile(path)
	if got := decodeLines(t, data); len(got) != 1 || got[0]["decision_id"] != "new" {
		t.Errorf("an oversized existing file was not rotated first: %s", data)
	}
	if backup, _ := os.ReadFile(BackupName(path, 1)); string(backup) != strings.Repeat(old, 10) {
		t.Errorf("backup = %q, want the old records", backup)
	}
}

func TestLogRotationFailureLosesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.jsonl")
	var errs counter
	var logs bytes.Buffer
	l, err := Open(Options{Path: path, MaxSize: 150, MaxBackups: 2, Errors: &errs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// A directory where the second backup goes makes shifting the first
	// fail.
	if err := os.WriteFile(BackupName(path, 1), []byte(`{"decision_id":"pre","input":{}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(BackupName(path, 2), "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		l.Decision(&Decision{ID: fmt.Sprint(i), Time: t0})
	}
	data, _ := os.ReadFile(path)
	if got := decodeLines(t, data); len(got) != 10 {
		t.Errorf("%d records in the current file, want all 10 while rotation fails", len(got))
	}
	if errs.n.Load() == 0 || strings.Count(logs.String(), "rotation failed") != 1 {
		t.Errorf("errors = %d, logs:\n%s\nwant failures counted and logged once", errs.n.Load(), logs.String())
	}
	// Once the obstacle is gone, rotation resumes.
	os.RemoveAll(BackupName(path, 2))
	l.Decision(&Decision{ID: "10", Time: t0})
	l.Close()
	ids, _ := readAll(t, path, 2, 0)
	if want := []string{"pre", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}; !slices.Equal(ids, want) || !strings.Contains(logs.String(), "rotating again") {
		t.Errorf("records %v, logs:\n%s\nwant %v and a recovery message", ids, logs.String(), want)
	}
}

// flakyWriter fails while fail is set, writing only half of each record.
type flakyWriter struct {
	bytes.Buffer
	fail bool
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.fail {
		n, _ := w.Buffer.Write(p[:len(p)/2])
		return n, errors.New("disk full")
	}
	return w.Buffer.Write(p)
}

func TestLogWriteFailure(t *testing.T) {
	w := &flakyWriter{}
	var errs counter
	var logs bytes.Buffer
	l, err := Open(Options{Writer: w, Errors: &errs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l.Decision(&Decision{ID: "ok1", Time: t0})
	w.fail = true
	l.Decision(&Decision{ID: "torn", Time: t0})
	l.Decision(&Decision{ID: "lost", Time: t0})
	w.fail = false
	l.Decision(&Decision{ID: "ok2", Time: t0})

	var ids []string
	bad := 0
	for line := range strings.SplitSeq(strings.TrimSuffix(w.String(), "\n"), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			bad++
			continue
		}
		ids = append(ids, m["decision_id"].(string))
	}
	if !slices.Equal(ids, []string{"ok1", "ok2"}) || bad != 1 {
		t.Errorf("records %v and %d torn lines in:\n%s\nwant ok1, ok2 and one torn line", ids, bad, w.String())
	}
	if errs.n.Load() != 2 {
		t.Errorf("errors = %d, want 2", errs.n.Load())
	}
	if strings.Count(logs.String(), "level=ERROR") != 1 || !strings.Contains(logs.String(), "records_lost=2") {
		t.Errorf("logs:\n%s\nwant one error and a recovery counting 2 lost records", logs.String())
	}
}
