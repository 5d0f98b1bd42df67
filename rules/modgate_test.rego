package modgate_test.aggregator

import data.modgate
import data.modgate_test.fixtures as f

go1 := f.vuln("GO-2024-0001", true, "v1.2.5")

vulnerable := f.inp({"vulns": [go1]})

waiver(over) := object.union(
	{
		"module": "example.com/m", "versions": [], "versions_text": "", "rules": [],
		"reason": "no fix upstream yet", "owner": "alice", "expires": "2025-02-01",
		"expires_ns": f.now + (31 * f.day),
	},
	over,
)

with_waivers(ws) := f.cfg({"waivers": ws})

test_clean_input_allowed if {
	d := modgate.decision with input as f.inp({}) with data.modgate.config as f.cfg_base
	d == {"deny": set(), "warn": set(), "audit": set(), "valid_until_ns": 0}
}

test_active_waiver_turns_deny_into_warn if {
	d := modgate.decision with input as vulnerable with data.modgate.config as with_waivers([waiver({})])
	count(d.deny) == 0
	some w in d.warn
	w.rule == "vulnerabilities"
	endswith(w.msg, "(waived until 2025-02-01 by alice: no fix upstream yet)")
	d.valid_until_ns == f.now + (31 * f.day)
}

test_waiver_expiry_edge if {
	# At the expiry instant the waiver no longer applies.
	c := with_waivers([waiver({"expires_ns": f.now})])
	d := modgate.decision with input as vulnerable with data.modgate.config as c
	f.rules_of(d.deny) == {"vulnerabilities"}
	c2 := with_waivers([waiver({"expires_ns": f.now + 1})])
	d2 := modgate.decision with input as vulnerable with data.modgate.config as c2
	count(d2.deny) == 0
}

test_expired_waiver_is_reported if {
	c := with_waivers([waiver({"expires": "2024-12-01", "expires_ns": f.now - f.day})])
	d := modgate.decision with input as vulnerable with data.modgate.config as c
	f.rules_of(d.deny) == {"vulnerabilities"}
	some w in d.warn
	w.rule == "waivers"
	w.msg == "waiver for example.com/m (owner alice: no fix upstream yet) expired on 2024-12-01; rule vulnerabilities denies example.com/m@v1.2.3 again"
}

test_expired_waiver_silent_without_deny if {
	c := with_waivers([waiver({"expires_ns": f.now - f.day})])
	d := modgate.decision with input as f.inp({}) with data.modgate.config as c
	count(d.warn) == 0
}

test_waiver_limited_to_rules if {
	c := f.cfg({"waivers": [waiver({"rules": ["cooldown"]})], "pseudo": "deny"})
	d := modgate.decision with input as object.union(vulnerable, {"pseudo": true}) with data.modgate.config as c
	f.rules_of(d.deny) == {"vulnerabilities", "pseudo"}
	c2 := f.cfg({"waivers": [waiver({"rules": ["pseudo"]})], "pseudo": "deny"})
	d2 := modgate.decision with input as object.union(vulnerable, {"pseudo": true}) with data.modgate.config as c2
	f.rules_of(d2.deny) == {"vulnerabilities"}
}

test_waiver_version_range if {
	c := with_waivers([waiver({"versions": [[{"op": "<", "v": "1.2.0"}]], "versions_text": "< v1.2.0"})])
	d := modgate.decision with input as vulnerable with data.modgate.config as c
	f.rules_of(d.deny) == {"vulnerabilities"}
	d2 := modgate.decision with input as object.union(vulnerable, {"version": "v1.1.0"}) with data.modgate.config as c
	count(d2.deny) == 0
}

test_waiver_other_module if {
	d := modgate.decision with input as vulnerable with data.modgate.config as with_waivers([waiver({"module": "example.com/x"})])
	count(d.deny) == 1
}

test_global_audit_mode if {
	d := modgate.decision with input as vulnerable with data.modgate.config as f.cfg({"mode": "audit"})
	count(d.deny) == 0
	f.rules_of(d.audit) == {"vulnerabilities"}
}

test_rule_mode_overrides_global if {
	c := f.cfg({"mode": "audit", "rule_modes": {"vulnerabilities": "enforce"}, "pseudo": "deny"})
	d := modgate.decision with input as object.union(vulnerable, {"pseudo": true}) with data.modgate.config as c
	f.rules_of(d.deny) == {"vulnerabilities"}
	f.rules_of(d.audit) == {"pseudo"}
}

test_rule_mode_off_drops_findings if {
	c := f.cfg({"rule_modes": {"vulnerabilities": "off", "deprecated": "off"}})
	d := modgate.decision with input as object.union(vulnerable, {"deprecated": true}) with data.modgate.config as c
	d.deny == set()
	d.warn == set()
	d.audit == set()
}

test_violation_normalization if {
	modgate.violation("acme", "plain message") == {"rule": "acme", "msg": "plain message", "fix": "", "ids": []}
	modgate.violation("acme", {"msg": "m", "fix": "x"}) == {"rule": "acme", "msg": "m", "fix": "x", "ids": []}
	modgate.violation("acme", {"msg": "m", "rule": "acme.banned"}) == {"rule": "acme.banned", "msg": "m", "fix": "", "ids": []}
	modgate.violation("acme", 42) == {"rule": "acme", "msg": "42", "fix": "", "ids": []}
	modgate.violation("acme", {"msg": 3}) == {"rule": "acme", "msg": "3", "fix": "", "ids": []}
	modgate.violation("acme", {"why": "x"}) == {"rule": "acme", "msg": "{\"why\": \"x\"}", "fix": "", "ids": []}
	modgate.violation("acme", {"msg": "m", "ids": ["GO-1"]}) == {"rule": "acme", "msg": "m", "fix": "", "ids": ["GO-1"]}
	modgate.violation("acme", {"msg": 3, "ids": [2]}) == {"rule": "acme", "msg": "3", "fix": "", "ids": ["2"]}
}
