package bot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/proxy/api"
)

// LoadConfigFile reads the bot's configuration from a YAML file: the
// `bot:` section of a modgate configuration file (other sections are
// left to their owners), or, without one, the whole file. Unknown keys
// in the bot's part are errors, reported with their line. The result is
// not validated.
func LoadConfigFile(path string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("bot config: %w", err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return cfg, fmt.Errorf("bot config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if _, ok := top["bot"]; ok {
		// Other sections belong to other owners: the inline map takes
		// them, while unknown keys under bot: are still errors, with
		// their line in the file.
		var wrapper struct {
			Bot  Config         `yaml:"bot"`
			Rest map[string]any `yaml:",inline"`
		}
		if err := dec.Decode(&wrapper); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("bot config %s: %w", path, err)
		}
		return wrapper.Bot, nil
	}
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("bot config %s: %w", path, err)
	}
	return cfg, nil
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
	gc := &api.Client{URL: cfg.Modgate.URL}
	if cfg.Modgate.TokenEnv != "" {
		gc.Header = http.Header{"Authorization": {"Bearer " + getenv(cfg.Modgate.TokenEnv)}}
	}
	return &Bot{Config: cfg, Forge: gh, Gate: gc, Env: env}, nil
}
