package modgate_test.lists

import data.modgate.rules.allowlist
import data.modgate.rules.blocklist
import data.modgate_test.fixtures as f

entry(module, match, versions, text) := {
	"module": module, "match": match, "versions": versions, "versions_text": text,
	"reason": "", "recommendation": "",
}

# ">= v1.2.0, < v2" normalized.
v12to2 := [[{"op": ">=", "v": "1.2.0"}, {"op": "<", "v": "2.0.0"}]]

blocked(entries) := f.cfg({"lists": {"blocked": entries}})

allowed(entries) := f.cfg({"lists": {"allowed": entries}})

test_empty_lists_allow if {
	count(blocklist.deny) == 0 with input as f.inp({}) with data.modgate.config as f.cfg_base
	count(allowlist.deny) == 0 with input as f.inp({}) with data.modgate.config as f.cfg_base
}

test_blocked_exact_with_reason_and_recommendation if {
	e := object.union(entry("example.com/m", "exact", [], ""), {"reason": "unmaintained", "recommendation": "example.com/n"})
	ds := blocklist.deny with input as f.inp({}) with data.modgate.config as blocked([e])
	ds == {{"msg": "example.com/m@v1.2.3 is blocked by the entry example.com/m: unmaintained", "fix": "use example.com/n"}}
}

test_blocked_exact_other_module if {
	count(blocklist.deny) == 0 with input as f.inp({"module": "example.com/m2"}) with data.modgate.config as blocked([entry("example.com/m", "exact", [], "")])
}

test_blocked_prefix_respects_path_boundary if {
	c := blocked([entry("example.com/org", "prefix", [], "")])
	count(blocklist.deny) == 1 with input as f.inp({"module": "example.com/org"}) with data.modgate.config as c
	count(blocklist.deny) == 1 with input as f.inp({"module": "example.com/org/x/y"}) with data.modgate.config as c
	count(blocklist.deny) == 0 with input as f.inp({"module": "example.com/organic"}) with data.modgate.config as c
}

test_blocked_prefix_trailing_slash_excludes_root if {
	c := blocked([entry("example.com/org/", "prefix", [], "")])
	count(blocklist.deny) == 0 with input as f.inp({"module": "example.com/org"}) with data.modgate.config as c
	count(blocklist.deny) == 1 with input as f.inp({"module": "example.com/org/x"}) with data.modgate.config as c
}

test_blocked_regex if {
	c := blocked([entry(`^github\.com/[^/]+/evil(/|$)`, "regex", [], "")])
	count(blocklist.deny) == 1 with input as f.inp({"module": "github.com/a/evil/v2"}) with data.modgate.config as c
	count(blocklist.deny) == 0 with input as f.inp({"module": "github.com/a/evilish"}) with data.modgate.config as c
}

test_blocked_versions_constraint if {
	c := blocked([entry("example.com/m", "exact", v12to2, ">= v1.2.0, < v2")])
	some d in blocklist.deny with input as f.inp({"version": "v1.2.0"}) with data.modgate.config as c
	d.msg == "example.com/m@v1.2.0 is blocked by the entry example.com/m >= v1.2.0, < v2"
	count(blocklist.deny) == 0 with input as f.inp({"version": "v1.1.9"}) with data.modgate.config as c
	count(blocklist.deny) == 0 with input as f.inp({"version": "v2.0.0+incompatible"}) with data.modgate.config as c
	count(blocklist.deny) == 1 with input as f.inp({"version": "v1.9.9-0.20240101000000-abcdefabcdef"}) with data.modgate.config as c
}

test_blocked_alternatives if {
	alts := [[{"op": "=", "v": "1.0.0"}], [{"op": ">=", "v": "3.0.0"}]]
	c := blocked([entry("example.com/m", "exact", alts, "v1.0.0 || >= v3")])
	count(blocklist.deny) == 1 with input as f.inp({"version": "v1.0.0"}) with data.modgate.config as c
	count(blocklist.deny) == 0 with input as f.inp({"version": "v2.0.0"}) with data.modgate.config as c
	count(blocklist.deny) == 1 with input as f.inp({"version": "v3.1.0"}) with data.modgate.config as c
}

test_allowlist_denies_unlisted_module if {
	c := allowed([entry("example.com/other", "exact", [], "")])
	ds := allowlist.deny with input as f.inp({}) with data.modgate.config as c
	ds == {{"msg": "example.com/m is not on the allow list", "fix": "ask for the module to be added to lists.allowed"}}
}

test_allowlist_prefix_allows if {
	c := allowed([entry("example.com", "prefix", [], "")])
	count(allowlist.deny) == 0 with input as f.inp({}) with data.modgate.config as c
}

test_allowlist_version_outside if {
	c := allowed([entry("example.com/m", "exact", v12to2, ">= v1.2.0, < v2")])
	count(allowlist.deny) == 0 with input as f.inp({}) with data.modgate.config as c
	some d in allowlist.deny with input as f.inp({"version": "v1.1.0"}) with data.modgate.config as c
	d.msg == "example.com/m@v1.1.0 is outside the allowed versions (>= v1.2.0, < v2)"
}

test_allowlist_any_entry_suffices if {
	c := allowed([entry("example.com/m", "exact", v12to2, ">= v1.2.0, < v2"), entry("example.com/m", "exact", [], "")])
	count(allowlist.deny) == 0 with input as f.inp({"version": "v0.1.0"}) with data.modgate.config as c
}
