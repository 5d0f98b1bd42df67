# Package modgate_test.fixtures holds the inputs and configuration the
# built-in rules' tests start from.
package modgate_test.fixtures

# 2025-01-01T00:00:00Z
now := 1735689600000000000

day := 86400000000000

input_base := {
	"module": "example.com/m",
	"version": "v1.2.3",
	"kind": "zip",
	"time": "",
	"time_ns": 0,
	"first_seen": "",
	"first_seen_ns": now - (30 * day),
	"initial": false,
	"released": "",
	"released_ns": now - (30 * day),
	"release_basis": "first_seen",
	"now": "2025-01-01T00:00:00Z",
	"now_ns": now,
	"pseudo": false,
	"prerelease": false,
	"incompatible": false,
	"update": {"previous": "v1.2.2", "type": "patch"},
	"latest": "v1.3.0",
	"retracted": false,
	"retraction_rationale": "",
	"deprecated": false,
	"deprecation": "",
	"vulns": [],
	"fixes": [],
	"vex": [],
	"licenses": ["MIT"],
	"license_status": "detected",
	"client": "",
	"vulndb": "test",
}

# cfg_base is the normalized zero policy.Config (TestRegoFixturesMatchGo
# keeps it in step with Config.normalize).
cfg_base := {
	"mode": "enforce",
	"rule_modes": {},
	"vulns": {"include_unreviewed": false, "ignore": []},
	"cooldown": {"default_days": 0, "days": {"initial": 0, "patch": 0, "minor": 0, "major": 0}, "unknown_release": "new"},
	"lists": {"allowed": [], "blocked": []},
	"licenses": {"allow": [], "deny": [], "unknown": "allow"},
	"pseudo": "allow",
	"waivers": [],
}

# inp returns the base input with the fields of over replaced.
inp(over) := object.union(input_base, over)

# cfg returns the zero configuration deep-merged with over.
cfg(over) := object.union(cfg_base, over)

# cooldown_cfg returns a configuration with a cooldown of default days,
# overridden per update type by days_by_type, normalized as the engine does.
cooldown_cfg(default_days, days_by_type) := cfg({"cooldown": {
	"default_days": default_days,
	"unknown_release": "new",
	"days": object.union(
		{"initial": default_days, "patch": default_days, "minor": default_days, "major": default_days},
		days_by_type,
	),
}})

# rules_of returns the rule names in a set of violations.
rules_of(vs) := {v.rule | some v in vs}

vuln(id, reviewed, fixed) := {"id": id, "aliases": [], "summary": "", "reviewed": reviewed, "fixed": fixed}
