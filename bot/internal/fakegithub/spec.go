package fakegithub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"golang.org/x/mod/modfile"
)

// SpecEnv names the environment variable that locates GitHub's OpenAPI
// description (api.github.com.json); without it the copy installed by
// `npm install --prefix .tools @octokit/openapi` at the repository root
// is used.
const SpecEnv = "MODGATE_GITHUB_OPENAPI"

// defaultSpec is the npm package's file relative to the repository root.
const defaultSpec = ".tools/node_modules/@octokit/openapi/generated/api.github.com.json"

// spec is loaded once per test binary: the description is 13 MB and
// takes seconds to parse.
var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	path   string
	took   time.Duration
	err    error
}

// SpecPath returns where the OpenAPI description is expected.
func SpecPath() (string, error) {
	if p := os.Getenv(SpecEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modfile.ModulePath(data) == "github.com/modgate/modgate" {
			return filepath.Join(dir, filepath.FromSlash(defaultSpec)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/modgate/modgate above the working directory")
		}
		dir = parent
	}
}

func loadSpec() (*openapi3.T, routers.Router, error) {
	spec.once.Do(func() {
		start := time.Now()
		spec.path, spec.err = SpecPath()
		if spec.err != nil {
			return
		}
		if _, err := os.Stat(spec.path); err != nil {
			spec.err = fmt.Errorf("GitHub OpenAPI description not found (%v); install it with `npm install --prefix .tools @octokit/openapi` at the repository root or set %s", err, SpecEnv)
			return
		}
		loader := openapi3.NewLoader()
		loader.Context = context.Background()
		spec.doc, spec.err = loader.LoadFromFile(spec.path)
		if spec.err != nil {
			spec.err = fmt.Errorf("load %s: %w", spec.path, spec.err)
			return
		}
		// Requests are matched against the public server URL; the fake
		// rewrites scheme and host before routing.
		spec.router, spec.err = gorillamux.NewRouter(spec.doc)
		spec.took = time.Since(start)
	})
	return spec.doc, spec.router, spec.err
}

// SpecLoadTime reports how long loading the description took.
func SpecLoadTime() time.Duration { return spec.took }
