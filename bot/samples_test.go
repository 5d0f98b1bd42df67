package bot

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSampleConfigs keeps the documented samples in testdata/bot valid.
func TestSampleConfigs(t *testing.T) {
	dir := filepath.Join("..", "testdata", "bot")
	cfg, err := LoadConfigFile(filepath.Join(dir, "modgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("testdata/bot/modgate.yaml: %v", err)
	}
	if cfg.Organization.Name != "acme" || *cfg.Defaults.Limits.OpenPRs != 10 {
		t.Errorf("sample config = %+v", cfg)
	}
	data, err := os.ReadFile(filepath.Join(dir, "repo-modgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ParseRepoConfig(data)
	if err != nil {
		t.Fatalf("testdata/bot/repo-modgate.yaml: %v", err)
	}
	merged := rc.merge(cfg.Defaults)
	if *merged.Limits.OpenPRs != 5 || len(merged.Labels) != 2 || !boolOr(merged.Test, false) {
		t.Errorf("merged = %+v", merged)
	}
	g := &group{Name: "cloud", Updates: []candidate{{Type: typeMinor}, {Type: typePatch}}}
	if got, err := title(&merged, g); err != nil || got != "build(deps): bump cloud group" {
		t.Errorf("title = %q, %v", got, err)
	}
	// The repository's automerge section replaces the defaults'.
	if len(merged.Automerge.Rules) != 2 || merged.Automerge.RequiredChecks[0] != "ci/test" || !boolOr(merged.Toolchain, false) {
		t.Errorf("merged automerge/toolchain = %+v", merged)
	}
	if len(cfg.Defaults.Automerge.Rules) != 2 || cfg.Defaults.Automerge.Rules[1].Match[0] != "golang.org/x/..." {
		t.Errorf("default automerge = %+v", cfg.Defaults.Automerge)
	}
}
