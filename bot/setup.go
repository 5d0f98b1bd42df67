package bot

import (
	"fmt"
	"net/http"
	"os"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/proxy/api"
)

// LoadConfigFile reads the bot's configuration from a YAML file: the
// `bot:` section of a modgate configuration file (other sections are
// left to their owners), or, without one, the whole file. Every unknown
// key and type mismatch in the bot's part is reported at once, each a
// *yamlconf.Error printing as "file:line: field: message", and the other
// keys are decoded all the same. A file that cannot be read or parsed
// decodes nothing: its error is wrapped as "bot config: …". The result is
// not validated; its [Config.Locate] places Validate's errors in the file.
func LoadConfigFile(path string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("bot config: %w", err)
	}
	doc, err := yamlconf.Parse(path, data)
	if err != nil {
		return cfg, fmt.Errorf("bot config: %w", err)
	}
	sec := doc.Section("bot")
	err = sec.Decode(&cfg)
	cfg.src = sec
	return cfg, err
}

// New builds a Bot from a validated cfg: the GitHub client (token from
// the environment variable cfg.GitHub.TokenEnv, default GITHUB_TOKEN, or
// App installation auth) and the modgate client. getenv reads secrets;
// env is the base environment of git and go commands (nil means the
// process environment).
func New(cfg Config, getenv func(string) string, env []string) (*Bot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fo := forge.Options{BaseURL: cfg.GitHub.APIURL}
	if a := cfg.GitHub.App; a.AppID != 0 {
		key, err := readKey(a.PrivateKeyFile)
		if err != nil {
			return nil, err
		}
		fo.App = &forge.AppAuth{AppID: a.AppID, InstallationID: a.InstallationID, PrivateKey: key}
	} else {
		name := cfg.GitHub.TokenEnv
		if name == "" {
			name = "GITHUB_TOKEN"
		}
		if fo.Token = getenv(name); fo.Token == "" {
			return nil, fmt.Errorf("bot.github.token_env: $%s is empty; set it to a token, or configure bot.github.app", name)
		}
	}
	gh, err := forge.NewGitHub(fo)
	if err != nil {
		return nil, err
	}
	return &Bot{Config: cfg, Forge: gh, Gate: gate(cfg, getenv), Env: env}, nil
}

func gate(cfg Config, getenv func(string) string) *api.Client {
	gc := &api.Client{URL: cfg.Modgate.URL}
	if cfg.Modgate.TokenEnv != "" {
		gc.Header = http.Header{"Authorization": {"Bearer " + getenv(cfg.Modgate.TokenEnv)}}
	}
	return gc
}

// NewLocal builds a dry-running Bot for the git checkout dir, without a
// code host: it plans against the checkout's HEAD commit as if it were a
// repository's default branch with no pull requests, and prints the pull
// requests (titles, bodies, diffs) and the dashboard it would write. The
// repositories, organisation and GitHub settings of cfg are not used;
// cfg.Modgate.URL is required.
func NewLocal(cfg Config, dir string, getenv func(string) string, env []string) (*Bot, error) {
	l := &forge.Local{Dir: dir}
	name, err := l.Name()
	if err != nil {
		return nil, err
	}
	cfg.Repositories, cfg.Organization = []string{name}, OrgConfig{}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Bot{Config: cfg, Forge: l, Gate: gate(cfg, getenv), Env: env, DryRun: true}, nil
}
