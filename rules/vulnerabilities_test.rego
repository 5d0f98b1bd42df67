package modgate_test.vulnerabilities

import data.modgate.rules.vulnerabilities
import data.modgate_test.fixtures as f

go1 := {"id": "GO-2024-0001", "aliases": ["CVE-2024-1111", "GHSA-aaaa-bbbb-cccc"], "summary": "bad", "reviewed": true, "fixed": "v1.2.5"}

go2 := f.vuln("GO-2024-0002", true, "v1.3.1")

unreviewed := f.vuln("GO-2024-0003", false, "v1.2.4")

unfixed := f.vuln("GO-2024-0004", true, "")

test_no_vulns_allowed if {
	count(vulnerabilities.deny) == 0 with input as f.inp({}) with data.modgate.config as f.cfg_base
}

test_reviewed_denied_names_ids_aliases_and_fix if {
	ds := vulnerabilities.deny with input as f.inp({"vulns": [go1]}) with data.modgate.config as f.cfg_base
	ds == {{
		"msg": "example.com/m@v1.2.3 is affected by GO-2024-0001 (CVE-2024-1111, GHSA-aaaa-bbbb-cccc); fixed in v1.2.5",
		"fix": "upgrade to v1.2.5 or later",
		"ids": ["GO-2024-0001"],
	}}
}

test_many_ids_counted_not_cut if {
	vs := [f.vuln(sprintf("GO-2024-00%d", [i]), true, "v1.4.0") | some i in numbers.range(10, 16)]
	some d in vulnerabilities.deny with input as f.inp({"vulns": vs}) with data.modgate.config as f.cfg_base
	d.msg == "example.com/m@v1.2.3 is affected by GO-2024-0010, GO-2024-0011, GO-2024-0012 and 4 more; fixed in v1.4.0"
	count(d.ids) == 7
}

test_lowest_version_fixing_all if {
	some d in vulnerabilities.deny with input as f.inp({"vulns": [go2, go1]}) with data.modgate.config as f.cfg_base
	endswith(d.msg, "; fixed in v1.3.1")
	contains(d.msg, "GO-2024-0001 (CVE-2024-1111, GHSA-aaaa-bbbb-cccc), GO-2024-0002")
}

test_no_fix_known if {
	some d in vulnerabilities.deny with input as f.inp({"vulns": [go1, unfixed]}) with data.modgate.config as f.cfg_base
	endswith(d.msg, "; no fixed version is known for GO-2024-0004")
	startswith(d.fix, "no fixed version exists yet")
}

test_unreviewed_allowed_by_default if {
	count(vulnerabilities.deny) == 0 with input as f.inp({"vulns": [unreviewed]}) with data.modgate.config as f.cfg_base
}

test_unreviewed_denied_when_included if {
	c := f.cfg({"vulns": {"include_unreviewed": true}})
	some d in vulnerabilities.deny with input as f.inp({"vulns": [unreviewed]}) with data.modgate.config as c
	contains(d.msg, "GO-2024-0003")
}

test_ignore_by_id if {
	c := f.cfg({"vulns": {"ignore": ["GO-2024-0001"]}})
	count(vulnerabilities.deny) == 0 with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
}

test_ignore_by_alias if {
	c := f.cfg({"vulns": {"ignore": ["CVE-2024-1111"]}})
	count(vulnerabilities.deny) == 0 with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
}

test_ignore_leaves_other_ids if {
	c := f.cfg({"vulns": {"ignore": ["CVE-2024-1111"]}})
	some d in vulnerabilities.deny with input as f.inp({"vulns": [go1, go2]}) with data.modgate.config as c
	not contains(d.msg, "GO-2024-0001")
	contains(d.msg, "GO-2024-0002")
}

test_decision_rule_name if {
	d := data.modgate.decision with input as f.inp({"vulns": [go1]}) with data.modgate.config as f.cfg_base
	f.rules_of(d.deny) == {"vulnerabilities"}
}

id_waiver(ids, expires_ns) := {
	"module": "example.com/m", "versions": [], "versions_text": "", "rules": [], "ids": ids,
	"reason": "baseline 2024-12-01", "owner": "platform", "expires": "2025-03-01", "expires_ns": expires_ns,
}

with_waivers(ws) := f.cfg({"waivers": ws})

test_id_waiver_excepts_only_its_ids if {
	c := with_waivers([id_waiver(["GO-2024-0001"], f.now + f.day)])
	count(vulnerabilities.deny) == 0 with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
	some w in vulnerabilities.warn with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
	w.rule == "waivers"
	w.msg == "GO-2024-0001 in example.com/m@v1.2.3 waived until 2025-03-01 by platform: baseline 2024-12-01"
	# An entry found later still denies.
	some d in vulnerabilities.deny with input as f.inp({"vulns": [go1, go2]}) with data.modgate.config as c
	d.ids == ["GO-2024-0002"]
}

test_id_waiver_matches_aliases if {
	c := with_waivers([id_waiver(["CVE-2024-1111"], f.now + f.day)])
	count(vulnerabilities.deny) == 0 with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
}

test_expired_id_waiver_denies_and_says_so if {
	c := with_waivers([id_waiver(["GO-2024-0001"], f.now - 1)])
	count(vulnerabilities.deny) == 1 with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
	some w in vulnerabilities.warn with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
	contains(w.msg, "expired on 2025-03-01")
}

test_id_waivers_are_not_rule_waivers if {
	c := with_waivers([id_waiver(["GO-2024-0002"], f.now + f.day)])
	d := data.modgate.decision with input as f.inp({"vulns": [go1]}) with data.modgate.config as c
	count(d.deny) == 1
}

stmt(status, expires_ns) := {
	"vulnerability": "CVE-2024-1111", "aliases": [], "status": status,
	"justification": "vulnerable_code_not_in_execute_path", "impact_statement": "",
	"source": "vex/app.json", "timestamp": "", "timestamp_ns": f.now - f.day, "expires": "", "expires_ns": expires_ns,
}

test_vex_not_affected_excepts if {
	inp := f.inp({"vulns": [go1], "vex": [stmt("not_affected", f.now + (10 * f.day))]})
	count(vulnerabilities.deny) == 0 with input as inp with data.modgate.config as f.cfg_base
	some w in vulnerabilities.warn with input as inp with data.modgate.config as f.cfg_base
	w.rule == "exceptions"
	w.msg == "GO-2024-0001 does not affect example.com/m@v1.2.3: not_affected, vulnerable_code_not_in_execute_path per VEX vex/app.json (stated 2024-12-31T00:00:00Z); the exception ends 2025-01-11T00:00:00Z"
	vulnerabilities.changes_at_ns == {f.now + (10 * f.day)} with input as inp with data.modgate.config as f.cfg_base
}

test_vex_affected_or_expired_does_not_except if {
	count(vulnerabilities.deny) == 1 with input as f.inp({"vulns": [go1], "vex": [stmt("affected", 0)]}) with data.modgate.config as f.cfg_base
	expired := f.inp({"vulns": [go1], "vex": [stmt("not_affected", f.now - 1)]})
	count(vulnerabilities.deny) == 1 with input as expired with data.modgate.config as f.cfg_base
	some w in vulnerabilities.warn with input as expired with data.modgate.config as f.cfg_base
	contains(w.msg, "the VEX statement of vex/app.json about GO-2024-0001")
}

test_vex_without_expiry if {
	count(vulnerabilities.deny) == 0 with input as f.inp({"vulns": [go1], "vex": [stmt("fixed", 0)]}) with data.modgate.config as f.cfg_base
}
