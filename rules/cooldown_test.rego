package modgate_test.cooldown

import data.modgate.rules.cooldown
import data.modgate_test.fixtures as f

seven := f.cooldown_cfg(7, {})

fix := f.vuln("GO-2024-0001", true, "v1.2.3")

test_disabled_by_default if {
	count(cooldown.deny) == 0 with input as f.inp({"released_ns": f.now}) with data.modgate.config as f.cfg_base
}

test_young_version_denied if {
	some d in cooldown.deny with input as f.inp({"released_ns": f.now - (2 * f.day)}) with data.modgate.config as seven
	d.msg == "example.com/m@v1.2.3 is too new: first seen 2024-12-30T00:00:00Z (2 days ago); the minimum release age for a patch update is 7 days"
	d.fix == "wait until 2025-01-06T00:00:00Z or use an older version"
}

test_exactly_n_days_allowed if {
	count(cooldown.deny) == 0 with input as f.inp({"released_ns": f.now - (7 * f.day)}) with data.modgate.config as seven
}

test_one_ns_short_of_n_days_denied if {
	count(cooldown.deny) == 1 with input as f.inp({"released_ns": (f.now - (7 * f.day)) + 1}) with data.modgate.config as seven
}

test_hours_in_message if {
	some d in cooldown.deny with input as f.inp({"released_ns": f.now - (5 * 3600000000000)}) with data.modgate.config as seven
	contains(d.msg, "(5 hours ago)")
}

test_unknown_first_seen_counts_as_now if {
	some d in cooldown.deny with input as f.inp({"released_ns": 0}) with data.modgate.config as seven
	contains(d.msg, "first seen 2025-01-01T00:00:00Z (0 hours ago)")
}

test_info_time_is_not_the_age if {
	# An old .info time does not shorten the cooldown of a version modgate
	# saw only now.
	count(cooldown.deny) == 1 with input as f.inp({"time_ns": f.now - (400 * f.day), "released_ns": f.now}) with data.modgate.config as seven
}

test_release_basis_in_message if {
	some d in cooldown.deny with input as f.inp({"released_ns": f.now - (2 * f.day), "release_basis": "info"}) with data.modgate.config as seven
	contains(d.msg, "released 2024-12-30T00:00:00Z (2 days ago, its .info time)")
	some e in cooldown.deny with input as f.inp({"released_ns": f.now - (3 * f.day), "release_basis": "first_contact"}) with data.modgate.config as seven
	contains(e.msg, "listed before modgate first saw the module on 2024-12-29T00:00:00Z")
}

unknown_seen_2_days_ago := f.inp({"released_ns": 0, "release_basis": "unknown", "first_seen_ns": f.now - (2 * f.day)})

test_unknown_release_new_denied if {
	some d in cooldown.deny with input as unknown_seen_2_days_ago with data.modgate.config as seven
	contains(d.msg, "treated as new (cooldown.unknown_release: new)")
	cooldown.changes_at_ns == {f.now + (5 * f.day)} with input as unknown_seen_2_days_ago with data.modgate.config as seven
}

test_unknown_release_new_counts_from_first_seen if {
	# Treated as new means N days from when modgate first saw it, N being
	# the update type's cooldown, not the longest one.
	c := f.cooldown_cfg(7, {"patch": 2, "major": 30})
	count(cooldown.deny) == 0 with input as unknown_seen_2_days_ago with data.modgate.config as c
	count(cooldown.deny) == 1 with input as unknown_seen_2_days_ago with data.modgate.config as seven
	count(cooldown.deny) == 1 with input as f.inp({"released_ns": 0, "release_basis": "unknown", "first_seen_ns": 0}) with data.modgate.config as c
}

test_unknown_release_old_allowed if {
	old := json.patch(seven, [{"op": "replace", "path": "/cooldown/unknown_release", "value": "old"}])
	count(cooldown.deny) == 0 with input as f.inp({"released_ns": 0, "release_basis": "unknown"}) with data.modgate.config as old
}

test_update_type_overrides if {
	c := f.cooldown_cfg(7, {"patch": 0, "major": 30})
	count(cooldown.deny) == 0 with input as f.inp({"released_ns": f.now}) with data.modgate.config as c
	some d in cooldown.deny with input as f.inp({"released_ns": f.now - (10 * f.day), "update": {"previous": "v1.2.3", "type": "major"}}) with data.modgate.config as c
	contains(d.msg, "for a major update is 30 days")
	count(cooldown.deny) == 1 with input as f.inp({"released_ns": f.now, "update": {"previous": "v1.1.0", "type": "minor"}}) with data.modgate.config as c
}

test_initial_version_uses_default if {
	some d in cooldown.deny with input as f.inp({"released_ns": f.now, "update": {"previous": "", "type": "initial"}}) with data.modgate.config as seven
	contains(d.msg, "for a initial update is 7 days")
}

test_fix_exception_allows_with_warning if {
	count(cooldown.deny) == 0 with input as f.inp({"released_ns": f.now, "fixes": [fix]}) with data.modgate.config as seven
	some w in cooldown.warn with input as f.inp({"released_ns": f.now, "fixes": [fix]}) with data.modgate.config as seven
	contains(w.msg, "allowed because it fixes GO-2024-0001")
}

test_fix_exception_needs_counted_vuln if {
	unreviewed := f.vuln("GO-2024-0002", false, "v1.2.3")
	count(cooldown.deny) == 1 with input as f.inp({"released_ns": f.now, "fixes": [unreviewed]}) with data.modgate.config as seven
	ignored := object.union(seven, {"vulns": {"ignore": ["GO-2024-0001"]}})
	count(cooldown.deny) == 1 with input as f.inp({"released_ns": f.now, "fixes": [fix]}) with data.modgate.config as ignored
}

test_changes_at_cooldown_end if {
	cooldown.changes_at_ns == {f.now + (5 * f.day)} with input as f.inp({"released_ns": f.now - (2 * f.day)}) with data.modgate.config as seven
	d := data.modgate.decision with input as f.inp({"released_ns": f.now - (2 * f.day)}) with data.modgate.config as seven
	d.valid_until_ns == f.now + (5 * f.day)
}

test_no_flip_once_old_enough if {
	d := data.modgate.decision with input as f.inp({"released_ns": f.now - (8 * f.day)}) with data.modgate.config as seven
	d.valid_until_ns == 0
	count(d.deny) == 0
}
