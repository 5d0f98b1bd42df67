package policy

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/modgate/modgate/internal/yamlconf"
)

// ConfigError is a problem in a configuration file, located by line; it
// prints as "file:line: field: message".
type ConfigError = yamlconf.Error

// LoadConfig reads a policy configuration file; see [ParseConfig]. Relative
// Paths are made relative to the file's directory.
func LoadConfig(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(file, data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(file)
	cfg.ResolvePaths(dir)
	return cfg, nil
}

// ParseConfig parses YAML policy configuration. The document is either a
// bare [Config] or a modgate configuration whose top-level "policy" key
// holds one (other top-level keys are left to their owners). Unknown fields
// (with a suggestion when a known one is close), type mismatches and
// [Config.Validate] failures are all reported, each as a *ConfigError with
// the line of the offending field, sorted by line and joined with
// errors.Join. An empty document yields the zero Config.
//
// The Config remembers the document, so that problems found later (by the
// engine) can be located too: see [Config.Locate].
func ParseConfig(file string, data []byte) (*Config, error) {
	doc, err := yamlconf.Parse(file, data)
	if err != nil {
		return nil, err
	}
	sec := doc.Section("policy")
	cfg := &Config{src: sec}
	// A type mismatch leaves the other fields decoded, so validation still
	// reports their problems in the same pass.
	derr := sec.Decode(cfg)
	if err := sec.Locate(errors.Join(derr, cfg.Validate())); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Locate places the *FieldErrors in err (such as those of [Config.Validate],
// or ones found later about a field, like a rule name in rule_modes that no
// loaded rule has) at the line of their field in the file c was parsed
// from by [ParseConfig] or [LoadConfig], turning them into *ConfigErrors
// sorted by line. A Config that came from no file (built in Go, or decoded
// as part of a larger document by its owner, who locates its errors
// itself) returns err unchanged, as does an err holding no FieldError.
func (c *Config) Locate(err error) error {
	return c.src.Locate(err)
}

// ResolvePaths makes the relative file names of c (rule paths, waiver
// files, VEX documents) relative to dir, the directory of the
// configuration file they were read from.
func (c *Config) ResolvePaths(dir string) {
	for _, ps := range [][]string{c.Paths, c.WaiverFiles, c.VEX} {
		for i, p := range ps {
			if p != "" && !filepath.IsAbs(p) {
				ps[i] = filepath.Join(dir, p)
			}
		}
	}
}
