package vulndb

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/scanner/internal/goproxytest"
)

// vulndbModule returns a fixture golang.org/x/vulndb module version whose
// data/osv holds testdata/vuln/osv, plus files the loader must ignore.
func vulndbModule(t testing.TB, version string, tm time.Time) goproxytest.Module {
	t.Helper()
	files := map[string]string{
		"go.mod":                         "module golang.org/x/vulndb\n\ngo 1.21\n",
		"data/reports/GO-2099-0001.yaml": "id: GO-2099-0001\n",
		"data/osv/nested/ignored.json":   "not json",
		"README.md":                      "fixture\n",
	}
	names, err := filepath.Glob(filepath.Join(fixtureDir, "osv", "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("fixtures: %v %v", names, err)
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files["data/osv/"+filepath.Base(name)] = string(data)
	}
	return goproxytest.Module{Path: DefaultModulePath, Version: version, Time: tm, Files: files}
}

var (
	modTime1 = time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	modTime2 = time.Date(2024, 6, 2, 10, 0, 0, 0, time.UTC)
	version1 = "v0.0.0-20240601100000-aaaaaaaaaaaa"
	version2 = "v0.0.0-20240602100000-bbbbbbbbbbbb"
)

func TestLoadModuleSource(t *testing.T) {
	srv := goproxytest.New(t, vulndbModule(t, version1, modTime1))
	l := &Loader{
		Config:  Config{Extra: []string{filepath.Join(fixtureDir, "extra", "inhouse"), filepath.Join(fixtureDir, "extra", "feed")}},
		Fetcher: &testFetcher{URL: srv.URL},
		Now:     func() time.Time { return modTime2 },
	}
	s, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 15 fixtures + 1 in-house + 1 Go entry of the feed.
	if s.Len() != 17 {
		t.Errorf("Len = %d, want 17", s.Len())
	}
	// The .info time is the snapshot time; the feed's entry (2024-06-01
	// 00:00) is older.
	if !s.Modified.Equal(modTime1) {
		t.Errorf("Modified = %v, want the .info time %v", s.Modified, modTime1)
	}
	if e, _ := s.Index().Entry("GO-2099-0002"); !e.Modified.Equal(modTime1) {
		t.Errorf("entry modified = %v, want %v", e.Modified, modTime1)
	}
	if !strings.Contains(s.Source, "golang.org/x/vulndb@"+version1) || !s.Loaded.Equal(modTime2) {
		t.Errorf("Source = %q, Loaded = %v", s.Source, s.Loaded)
	}
	ms, err := s.Affects("example.com/typo", "v1.0.0")
	if err != nil || len(ms) != 1 {
		t.Errorf("extra feed entry not matched: %v %v", ms, err)
	}

	// Unchanged version: the zip is not downloaded again, same identity.
	zipPath := "/golang.org/x/vulndb/@v/" + version1 + ".zip"
	s2, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(zipPath); n != 1 {
		t.Errorf("zip downloaded %d times, want 1", n)
	}
	if s2.ID != s.ID {
		t.Errorf("unchanged source: ID %s -> %s", s.ID, s2.ID)
	}

	// A new version is picked up.
	m2 := vulndbModule(t, version2, modTime2)
	m2.Files["data/osv/GO-2099-0100.json"] = `{"id":"GO-2099-0100","modified":"0001-01-01T00:00:00Z","details":"new","affected":[{"package":{"name":"example.com/new","ecosystem":"Go"}}]}`
	if err := srv.Add(m2); err != nil {
		t.Fatal(err)
	}
	s3, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s3.ID == s.ID || s3.Len() != 18 || !s3.Modified.Equal(modTime2) {
		t.Errorf("after new version: ID changed %v, Len %d, Modified %v", s3.ID != s.ID, s3.Len(), s3.Modified)
	}
}

// failingFetcher fails on demand.
type failingFetcher struct {
	ModuleFetcher
	mu   sync.Mutex
	fail bool
}

func (f *failingFetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return "", time.Time{}, errors.New("upstream down")
	}
	return f.ModuleFetcher.Latest(ctx, path)
}

func TestLoadFailures(t *testing.T) {
	srv := goproxytest.New(t, vulndbModule(t, version1, modTime1))
	bad := vulndbModule(t, version2, modTime2)
	bad.Files["data/osv/GO-2099-0999.json"] = `{"id":"GO-2099-0999","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"x"}]}]}]}`
	badDir := t.TempDir()
	os.WriteFile(filepath.Join(badDir, "bad.json"), []byte("{"), 0o644)
	for _, tc := range []struct {
		name string
		l    *Loader
		want string
	}{
		{"no fetcher", &Loader{}, "no module fetcher"},
		{"missing module", &Loader{Config: Config{ModulePath: "example.com/missing"}, Fetcher: &testFetcher{URL: srv.URL}}, "example.com/missing@latest"},
		{"bad extra", &Loader{Config: Config{Source: SourceNone, Extra: []string{badDir}}}, "bad.json"},
		{"missing extra", &Loader{Config: Config{Source: SourceNone, Extra: []string{filepath.Join(badDir, "nope")}}}, "nope"},
		{"bad url", &Loader{Config: Config{Source: "ftp://x"}}, "vulndb.source"},
		{"missing v1", &Loader{Config: Config{Source: "file://" + filepath.ToSlash(badDir)}}, "index/db.json"},
	} {
		_, err := tc.l.Load(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load error = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// A bad entry in a new module version fails the whole load.
	srv2 := goproxytest.New(t, bad)
	_, err := (&Loader{Fetcher: &testFetcher{URL: srv2.URL}}).Load(context.Background())
	if err == nil || !strings.Contains(err.Error(), "GO-2099-0999") {
		t.Errorf("Load with bad entry: %v, want error naming GO-2099-0999", err)
	}
}

func TestLoadV1Sources(t *testing.T) {
	src := fixtureSnapshot(t)
	dir := t.TempDir()
	if err := src.Build(dir); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&Handler{Source: Static{src}})
	t.Cleanup(srv.Close)
	for _, source := range []string{"file://" + filepath.ToSlash(dir), srv.URL, srv.URL + "/"} {
		l := &Loader{Config: Config{Source: source}}
		s, err := l.Load(context.Background())
		if err != nil {
			t.Fatalf("Load(%s): %v", source, err)
		}
		if s.ID != src.ID || s.Len() != src.Len() || !s.Modified.Equal(src.Modified) {
			t.Errorf("Load(%s): ID %s Len %d Modified %v; want %s %d %v", source, s.ID, s.Len(), s.Modified, src.ID, src.Len(), src.Modified)
		}
	}
}

func TestHTTPErrorIsNotExist(t *testing.T) {
	for code, want := range map[int]bool{http.StatusNotFound: true, http.StatusGone: true, http.StatusBadGateway: false} {
		if got := errors.Is(&HTTPError{StatusCode: code}, os.ErrNotExist); got != want {
			t.Errorf("errors.Is(HTTPError{%d}, ErrNotExist) = %v, want %v", code, got, want)
		}
	}
}
