package bot

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
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
	// URL is modgate's base URL: its GOPROXY value and the host of
	// /api/v1/decisions. Required.
	URL string `yaml:"url"`
	// ListURL, if set, is a GOPROXY URL asked only for version lists, so
	// versions modgate hides can be reported on the dashboard with the
	// policy's reasons. Empty means hidden versions go unmentioned.
	ListURL string `yaml:"list_url"`
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

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.Schedule != "" {
		if _, err := ParseSchedule(c.Schedule, c.TimeZone); err != nil {
			return fmt.Errorf("bot.schedule: %w", err)
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			return fmt.Errorf("bot.timezone: unknown time zone %q", c.TimeZone)
		}
	}
	if c.Modgate.URL == "" {
		return errors.New("bot.modgate.url: required (the modgate server's base URL)")
	}
	for name, u := range map[string]string{"bot.modgate.url": c.Modgate.URL, "bot.modgate.list_url": c.Modgate.ListURL, "bot.github.api_url": c.GitHub.APIURL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return fmt.Errorf("%s: %q is not an http(s) URL", name, u)
		}
	}
	if a := c.GitHub.App; a.AppID != 0 || a.InstallationID != 0 || a.PrivateKeyFile != "" {
		switch {
		case a.AppID <= 0:
			return errors.New("bot.github.app.app_id: required with an App installation")
		case a.InstallationID <= 0:
			return errors.New("bot.github.app.installation_id: required with app_id")
		case a.PrivateKeyFile == "":
			return errors.New("bot.github.app.private_key_file: required with app_id")
		}
	}
	if len(c.Repositories) == 0 && c.Organization.Name == "" {
		return errors.New("bot.repositories: list repositories or set bot.organization.name")
	}
	for i, r := range c.Repositories {
		if o, n, ok := strings.Cut(r, "/"); !ok || o == "" || n == "" || strings.Contains(n, "/") {
			return fmt.Errorf("bot.repositories[%d]: %q is not owner/name", i, r)
		}
	}
	for i, r := range c.Organization.Exclude {
		if _, _, ok := strings.Cut(r, "/"); !ok {
			return fmt.Errorf("bot.organization.exclude[%d]: %q is not owner/name", i, r)
		}
	}
	if c.Concurrency < 0 {
		return fmt.Errorf("bot.concurrency: %d is negative", c.Concurrency)
	}
	for i, kv := range c.GoEnv {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("bot.go_env[%d]: %q is not KEY=VALUE", i, kv)
		}
		if k == "GOPROXY" || k == "GOWORK" {
			return fmt.Errorf("bot.go_env[%d]: %s is set by the bot", i, k)
		}
	}
	if err := c.Defaults.Validate(); err != nil {
		return fmt.Errorf("bot.defaults.%w", err)
	}
	return nil
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
