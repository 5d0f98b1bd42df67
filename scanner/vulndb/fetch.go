package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// ProxyFetcher is a minimal [ModuleFetcher] speaking the GOPROXY protocol
// to a single proxy URL. It exists for the stand-alone CLI: it does not
// implement GOPROXY lists (comma/pipe fallthrough), "direct", or checksum
// verification; the module proxy itself does all that for the server. The
// zip is still checked for well-formedness by the loader.
type ProxyFetcher struct {
	// URL is the proxy's base URL, e.g. "https://proxy.example.com".
	URL string
	// Client is the HTTP client. Nil means http.DefaultClient.
	Client *http.Client
}

func (p *ProxyFetcher) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return http.DefaultClient
}

// Latest implements [ModuleFetcher] as the go command resolves "latest":
// the highest release in $path/@v/list (else the highest prerelease),
// and $path/@latest only when the list is empty. The time comes from the
// version's .info.
func (p *ProxyFetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	ep, err := module.EscapePath(path)
	if err != nil {
		return "", time.Time{}, err
	}
	base := strings.TrimRight(p.URL, "/") + "/" + ep
	body, err := httpGetBody(ctx, p.client(), base+"/@v/list")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", time.Time{}, fmt.Errorf("%s@latest: %w", path, err)
	}
	var best string
	if err == nil {
		list, err := io.ReadAll(io.LimitReader(body, 16<<20))
		body.Close()
		if err != nil {
			return "", time.Time{}, fmt.Errorf("%s@latest: %w", path, err)
		}
		best = latestListed(strings.Fields(string(list)))
	}
	infoURL := base + "/@latest"
	if best != "" {
		ev, err := module.EscapeVersion(best)
		if err != nil {
			return "", time.Time{}, err
		}
		infoURL = base + "/@v/" + ev + ".info"
	}
	body, err = httpGetBody(ctx, p.client(), infoURL)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%s@latest: %w", path, err)
	}
	defer body.Close()
	var info struct {
		Version string
		Time    time.Time
	}
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&info); err != nil {
		return "", time.Time{}, fmt.Errorf("%s@latest: decoding info: %w", path, err)
	}
	if err := module.Check(path, info.Version); err != nil {
		return "", time.Time{}, fmt.Errorf("%s@latest: %w", path, err)
	}
	return info.Version, info.Time, nil
}

// latestListed picks the highest release, else the highest prerelease,
// among valid versions.
func latestListed(vs []string) string {
	var rel, pre string
	for _, v := range vs {
		if !semver.IsValid(v) {
			continue
		}
		if semver.Prerelease(v) == "" {
			if rel == "" || semver.Compare(v, rel) > 0 {
				rel = v
			}
		} else if pre == "" || semver.Compare(v, pre) > 0 {
			pre = v
		}
	}
	if rel != "" {
		return rel
	}
	return pre
}

// Zip implements [ModuleFetcher] with $path/@v/$version.zip.
func (p *ProxyFetcher) Zip(ctx context.Context, path, version string, dst io.Writer) error {
	ep, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return err
	}
	body, err := httpGetBody(ctx, p.client(), strings.TrimRight(p.URL, "/")+"/"+ep+"/@v/"+ev+".zip")
	if err != nil {
		return fmt.Errorf("%s@%s: %w", path, version, err)
	}
	defer body.Close()
	if _, err := io.Copy(dst, body); err != nil {
		return fmt.Errorf("%s@%s: %w", path, version, err)
	}
	return nil
}

// GoFetcher is a [ModuleFetcher] that runs the go command ("go list -m"
// and "go mod download"), so it honors GOPROXY lists, GOPRIVATE, GONOSUMDB
// and verifies zips against the checksum database exactly like a build
// would. It suits the stand-alone CLI on a developer machine.
type GoFetcher struct {
	// Env is the environment of the go command. Nil means os.Environ().
	Env []string
	// GoCmd is the go command to run. Empty means "go".
	GoCmd string
}

func (g *GoFetcher) run(ctx context.Context, args ...string) ([]byte, error) {
	gocmd := g.GoCmd
	if gocmd == "" {
		gocmd = "go"
	}
	dir, err := os.MkdirTemp("", "modgate-gofetch-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, gocmd, args...)
	// Run outside any module or workspace so the user's go.mod cannot
	// interfere.
	cmd.Dir = dir
	env := g.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env[:len(env):len(env)], "GO111MODULE=on", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Latest implements [ModuleFetcher] with "go list -m -json path@latest".
func (g *GoFetcher) Latest(ctx context.Context, path string) (string, time.Time, error) {
	out, err := g.run(ctx, "list", "-m", "-json", path+"@latest")
	if err != nil {
		return "", time.Time{}, err
	}
	var m struct {
		Version string
		Time    *time.Time
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return "", time.Time{}, fmt.Errorf("%s@latest: decoding go list output: %w", path, err)
	}
	var t time.Time
	if m.Time != nil {
		t = *m.Time
	}
	return m.Version, t, nil
}

// Zip implements [ModuleFetcher] with "go mod download -json", copying
// the verified zip from the module cache.
func (g *GoFetcher) Zip(ctx context.Context, path, version string, dst io.Writer) error {
	out, err := g.run(ctx, "mod", "download", "-json", path+"@"+version)
	if err != nil {
		return err
	}
	var m struct {
		Zip   string
		Error string
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return fmt.Errorf("%s@%s: decoding go mod download output: %w", path, version, err)
	}
	if m.Error != "" {
		return fmt.Errorf("%s@%s: %s", path, version, m.Error)
	}
	f, err := os.Open(m.Zip)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(dst, f)
	return err
}
