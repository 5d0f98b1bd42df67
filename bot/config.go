package bot

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/modgate/modgate/internal/yamlconf"
)

// Config is the bot's organisation-wide configuration (the `bot:` section
// of modgate's configuration file).
type Config struct {
	// Schedule is the cron spec (five fields, or a descriptor such as
	// "@daily") of `modgate bot` run as a service. Empty means the
	// service needs --schedule; --once ignores it.
	Schedule string `yaml:"schedule"`
	// TimeZone is the IANA zone the schedule is read in. Empty means UTC.
	TimeZone string `yaml:"timezone"`
	// GitHub says how to reach the code host.
	GitHub GitHubConfig `yaml:"github"`
	// Modgate is the modgate server whose policy the bot follows.
	Modgate ModgateConfig `yaml:"modgate"`
	// Repositories lists "owner/name" repositories to update. It may be
	// combined with Organization.
	Repositories []string `yaml:"repositories"`
	// Organization, if its Name is set, adds every repository of an
	// organisation (filtered).
	Organization OrgConfig `yaml:"organization"`
	// Concurrency is how many repositories are processed at once. Zero
	// means 2.
	Concurrency int `yaml:"concurrency"`
	// WorkDir holds clones and sandboxes; they are removed after each
	// repository. Empty means the system temporary directory.
	WorkDir string `yaml:"work_dir"`
	// GoEnv adds KEY=VALUE settings to the go command's environment
	// (GOPRIVATE, GOFLAGS, ...). GOPROXY is always Modgate.URL and GOWORK
	// is set per module.
	GoEnv []string `yaml:"go_env"`
	// GitName and GitEmail author the bot's commits. Empty means
	// "modgate-bot" and "modgate-bot@users.noreply.invalid".
	GitName  string `yaml:"git_name"`
	GitEmail string `yaml:"git_email"`
	// Defaults are the per-repository settings used where a
	// repository's .github/modgate.yaml says nothing.
	Defaults RepoConfig `yaml:"defaults"`

	// src is the document LoadConfigFile read c from, nil otherwise; see
	// [Config.Locate].
	src *yamlconf.Doc
}

// GitHubConfig is how the bot authenticates to GitHub.
type GitHubConfig struct {
	// APIURL is the REST API base URL of a GitHub Enterprise Server
	// ("https://ghe.example.com/api/v3/"). Empty means public GitHub.
	APIURL string `yaml:"api_url"`
	// TokenEnv names the environment variable holding a token. Empty
	// means GITHUB_TOKEN (unless App is configured).
	TokenEnv string `yaml:"token_env"`
	// App, when AppID is set, authenticates as a GitHub App installation
	// instead of with a token.
	App AppConfig `yaml:"app"`
}

// AppConfig identifies a GitHub App installation.
type AppConfig struct {
	// AppID is the App's ID. Zero means token authentication.
	AppID int64 `yaml:"app_id"`
	// InstallationID is the installation in the organisation. Required
	// with AppID.
	InstallationID int64 `yaml:"installation_id"`
	// PrivateKeyFile is the App's PEM private key. Required with AppID.
	PrivateKeyFile string `yaml:"private_key_file"`
}

// ModgateConfig locates the modgate server.
type ModgateConfig struct {
	// URL is modgate's base URL: its GOPROXY value and the host of its
	// decision API, which reports every listed version with modgate's
	// facts and verdict (so versions it denies are named on the dashboard
	// with the reasons). Required.
	URL string `yaml:"url"`
	// TokenEnv names an environment variable with a bearer token for
	// modgate. Empty means no authentication.
	TokenEnv string `yaml:"token_env"`
	// GOSUMDB is the checksum database for the go command. Empty means
	// the environment's setting.
	GOSUMDB string `yaml:"gosumdb"`
}

// OrgConfig selects an organisation's repositories.
type OrgConfig struct {
	// Name is the organisation. Empty means none.
	Name string `yaml:"name"`
	// Topics keeps repositories having at least one of these topics.
	// Empty means all.
	Topics []string `yaml:"topics"`
	// IncludeArchived also processes archived repositories (which cannot
	// take pull requests; useful only for dashboards of forks). False
	// means archived repositories are skipped.
	IncludeArchived bool `yaml:"include_archived"`
	// IncludeForks also processes forks. False means they are skipped.
	IncludeForks bool `yaml:"include_forks"`
	// Exclude lists "owner/name" repositories to skip.
	Exclude []string `yaml:"exclude"`
}

// Validate checks c and returns every problem, each a
// *yamlconf.FieldError naming its key in modgate's configuration file
// ("bot.modgate.url"), joined with errors.Join; nil when c is valid.
func (c *Config) Validate() error {
	return yamlconf.Prefix("bot", c.check())
}

// Locate places the field errors in err (such as Validate's) at their line
// in the file c was read from by [LoadConfigFile]. A Config from anywhere
// else returns err unchanged.
func (c *Config) Locate(err error) error {
	return c.src.Locate(err)
}

// check is Validate with field paths relative to the bot: section.
func (c *Config) check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, yamlconf.Errorf(field, format, args...))
	}
	tz := c.TimeZone
	if _, err := time.LoadLocation(tz); err != nil {
		bad("timezone", "unknown time zone %q", tz)
		tz = "" // the schedule's own problems, read in UTC
	}
	if c.Schedule != "" {
		if _, err := ParseSchedule(c.Schedule, tz); err != nil {
			bad("schedule", "%w", err)
		}
	}
	if c.Modgate.URL == "" {
		bad("modgate.url", "required (the modgate server's base URL)")
	}
	for _, u := range []struct{ field, url string }{
		{"modgate.url", c.Modgate.URL}, {"github.api_url", c.GitHub.APIURL},
	} {
		if u.url != "" && !strings.HasPrefix(u.url, "https://") && !strings.HasPrefix(u.url, "http://") {
			bad(u.field, "%q is not an http(s) URL", u.url)
		}
	}
	if a := c.GitHub.App; a.AppID != 0 || a.InstallationID != 0 || a.PrivateKeyFile != "" {
		if a.AppID <= 0 {
			bad("github.app.app_id", "required with an App installation")
		}
		if a.InstallationID <= 0 {
			bad("github.app.installation_id", "required with app_id")
		}
		if a.PrivateKeyFile == "" {
			bad("github.app.private_key_file", "required with app_id")
		}
	}
	if len(c.Repositories) == 0 && c.Organization.Name == "" {
		bad("repositories", "list repositories or set bot.organization.name")
	}
	for i, r := range c.Repositories {
		if o, n, ok := strings.Cut(r, "/"); !ok || o == "" || n == "" || strings.Contains(n, "/") {
			bad(fmt.Sprintf("repositories[%d]", i), "%q is not owner/name", r)
		}
	}
	for i, r := range c.Organization.Exclude {
		if _, _, ok := strings.Cut(r, "/"); !ok {
			bad(fmt.Sprintf("organization.exclude[%d]", i), "%q is not owner/name", r)
		}
	}
	if c.Concurrency < 0 {
		bad("concurrency", "%d is negative", c.Concurrency)
	}
	for i, kv := range c.GoEnv {
		field := fmt.Sprintf("go_env[%d]", i)
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			bad(field, "%q is not KEY=VALUE", kv)
		} else if k == "GOPROXY" || k == "GOWORK" {
			bad(field, "%s is set by the bot", k)
		}
	}
	return errors.Join(append(errs, yamlconf.Prefix("defaults", c.Defaults.Validate()))...)
}

// ParseSchedule parses a cron spec in a time zone ("" means UTC).
func ParseSchedule(spec, tz string) (cron.Schedule, error) {
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, fmt.Errorf("unknown time zone %q", tz)
		}
	}
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %w", spec, err)
	}
	// A CRON_TZ= prefix in the spec wins over the configured zone.
	if ss, ok := s.(*cron.SpecSchedule); ok && !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		ss.Location = loc
	}
	return s, nil
}

// readKey reads the GitHub App's private key.
func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bot.github.app.private_key_file: %w", err)
	}
	return b, nil
}
