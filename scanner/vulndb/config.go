package vulndb

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/mod/module"

	"github.com/modgate/modgate/internal/yamlconf"
)

// Source values of [Config.Source] that are not URLs.
const (
	// SourceModule loads the golang.org/x/vulndb module (its data/osv
	// files) through a [ModuleFetcher], normally modgate's own upstream.
	SourceModule = "module"
	// SourceNone loads no primary database: only [Config.Extra].
	SourceNone = "none"
)

// Defaults for [Config].
const (
	DefaultModulePath = "golang.org/x/vulndb"
	// DefaultRefresh checks for a new database every hour. A check that
	// finds the same golang.org/x/vulndb version (or the same
	// index/db.json time) costs one small request and reuses the loaded
	// entries.
	DefaultRefresh = "@every 1h"
)

// Config configures where the vulnerability database comes from and how
// often it is refreshed.
type Config struct {
	// Source is the primary database: "module" (or "") for the
	// golang.org/x/vulndb module fetched through the upstream; an
	// http://, https:// or file:// URL of a database in the v1 layout
	// (index/db.json, index/modules.json, ID/<id>.json); or "none".
	Source string `yaml:"source"`
	// ModulePath is the module loaded when Source is "module". Empty
	// means golang.org/x/vulndb; set it for an internal fork with the
	// same data/osv layout.
	ModulePath string `yaml:"module_path"`
	// Extra are directories of additional OSV files (*.json, searched
	// recursively): in-house advisories, a malicious-package feed.
	// Entries of other ecosystems are skipped. An extra entry replaces a
	// primary entry with the same ID. Empty means none.
	Extra []string `yaml:"extra"`
	// Refresh is a cron spec (robfig/cron/v3 standard syntax, including
	// descriptors such as "@every 6h" and "@hourly") for reloading the
	// database. Empty means DefaultRefresh; "off" disables refreshes
	// after the initial load.
	Refresh string `yaml:"refresh"`
}

// RefreshOff disables scheduled refreshes in [Config.Refresh].
const RefreshOff = "off"

// Validate checks c and returns every problem, each a
// *yamlconf.FieldError naming its field in modgate's configuration file
// ("vulndb.refresh"), joined with errors.Join; nil when c is valid.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, yamlconf.Errorf("vulndb."+field, format, args...))
	}
	switch src := c.Source; {
	case src == "" || src == SourceModule || src == SourceNone:
	default:
		u, err := url.Parse(src)
		switch {
		case err != nil:
			bad("source", "%w", err)
		case u.Scheme == "http" || u.Scheme == "https":
			if u.Host == "" {
				bad("source", "%q has no host", src)
			}
		case u.Scheme == "file":
			if u.Path == "" {
				bad("source", "%q has no path", src)
			}
		default:
			bad("source", "%q is not %q, %q or an http(s):// or file:// URL", src, SourceModule, SourceNone)
		}
	}
	if c.ModulePath != "" {
		if err := module.CheckPath(c.ModulePath); err != nil {
			bad("module_path", "%w", err)
		}
	}
	for i, d := range c.Extra {
		if strings.TrimSpace(d) == "" {
			bad(fmt.Sprintf("extra[%d]", i), "empty directory")
		}
	}
	if c.Refresh != "" && c.Refresh != RefreshOff {
		if _, err := cron.ParseStandard(c.Refresh); err != nil {
			bad("refresh", "cron spec %q: %w", c.Refresh, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Config) source() string {
	if c.Source == "" {
		return SourceModule
	}
	return c.Source
}

func (c *Config) modulePath() string {
	if c.ModulePath == "" {
		return DefaultModulePath
	}
	return c.ModulePath
}

func (c *Config) refresh() string {
	if c.Refresh == "" {
		return DefaultRefresh
	}
	return c.Refresh
}

// Interval is the time between two scheduled refreshes (measured at an
// arbitrary instant for cron specs with uneven gaps), or 0 when refreshes
// are off. A one-shot load treats a cached database younger than this as
// current.
func (c *Config) Interval() time.Duration {
	spec := c.refresh()
	if spec == RefreshOff {
		return 0
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return 0
	}
	t := sched.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	return sched.Next(t).Sub(t)
}
