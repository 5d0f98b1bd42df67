package vulndb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// testFetcher is a [ModuleFetcher] over a test module proxy: the
// version is the proxy's @latest, as is, so the loader's tests control it
// exactly. (modgate resolves latest versions in its facts service.)
type testFetcher struct{ URL string }

func (f *testFetcher) get(ctx context.Context, path, file string) (io.ReadCloser, error) {
	ep, err := module.EscapePath(path)
	if err != nil {
		return nil, err
	}
	return httpGetBody(ctx, http.DefaultClient, strings.TrimRight(f.URL, "/")+"/"+ep+file)
}

func (f *testFetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	body, err := f.get(ctx, path, "/@latest")
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s@latest: %w", path, err)
	}
	defer body.Close()
	var info struct {
		Version string
		Time    time.Time
	}
	if err := json.NewDecoder(body).Decode(&info); err != nil {
		return "", time.Time{}, fmt.Errorf("%s@latest: %w", path, err)
	}
	return info.Version, info.Time, nil
}

func (f *testFetcher) Zip(ctx context.Context, path, version string, dst io.Writer) error {
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return err
	}
	body, err := f.get(ctx, path, "/@v/"+ev+".zip")
	if err != nil {
		return fmt.Errorf("%s@%s: %w", path, version, err)
	}
	defer body.Close()
	_, err = io.Copy(dst, body)
	return err
}
