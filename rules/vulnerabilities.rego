# Rule vulnerabilities: deny versions affected by reviewed Go vulnerability
# entries (unreviewed ones too with vulns.include_unreviewed; vulns.ignore
# lists IDs or aliases to skip). One finding names the entries (the first
# few, then a count; every ID is in the finding's ids) and the lowest
# version that fixes all of them.
#
# Exceptions, scoped to one vulnerability of matching versions and
# expiring: a waiver with ids (often written by modgate policy baseline)
# and a VEX statement (input.vex, from the policy's vex documents) saying
# not_affected or fixed. An excepted entry does not deny; a warning says
# which exception applied, and another says when one has expired.
package modgate.rules.vulnerabilities

import data.modgate.lib

counted := [v | some v in input.vulns; lib.vuln_counted(v)]

hits := [v | some v in counted; not excepted(v)]

unfixed := [v.id | some v in hits; v.fixed == ""]

# fixed_in is the lowest version that fixes every hit: the highest of their
# fixed versions.
fixed_in := lib.max_version([v.fixed | some v in hits])

# max_named entries are named in the message; the rest are counted.
max_named := 3

deny contains {"msg": msg, "fix": fix_hint, "ids": ids} if {
	count(input.vulns) > 0
	count(hits) > 0
	ids := sort([v.id | some v in hits])
	named := sort([lib.vuln_name(v) | some v in hits])
	msg := sprintf("%s is affected by %s; %s", [lib.mv, name_list(named), fix_text])
}

name_list(names) := concat(", ", names) if {
	count(names) <= max_named
} else := sprintf("%s and %d more", [concat(", ", array.slice(names, 0, max_named)), count(names) - max_named])

fix_text := sprintf("no fixed version is known for %s", [name_list(sort(unfixed))]) if {
	count(unfixed) > 0
} else := sprintf("fixed in %s", [fixed_in])

fix_hint := "no fixed version exists yet: remove the dependency, request a waiver, or, if your code cannot reach it, prove it with modgate check --vex and list the document under the policy's vex" if {
	count(unfixed) > 0
} else := sprintf("upgrade to %s or later", [fixed_in])

# names are an entry's ID and aliases.
names(v) := {n | some n in array.concat([v.id], v.aliases)}

# id_waivers are the waivers with ids for this module version.
id_waivers := [w |
	some w in data.modgate.config.waivers
	count(w.ids) > 0
	w.module == input.module
	lib.version_in(input.version, w.versions)
]

# waivers_for(v) are the id_waivers naming entry v.
waivers_for(v) := [w | some w in id_waivers; some id in w.ids; id in names(v)]

# vex_for(v) are the VEX statements saying entry v does not apply.
vex_for(v) := [s |
	some s in input.vex
	s.status in {"not_affected", "fixed"}
	some n in array.concat([s.vulnerability], s.aliases)
	n in names(v)
]

live(x) if x.expires_ns == 0

live(x) if input.now_ns < x.expires_ns

excepted(v) if {
	count(id_waivers) > 0
	some w in waivers_for(v)
	live(w)
}

excepted(v) if {
	count(input.vex) > 0
	some s in vex_for(v)
	live(s)
}

warn contains {"rule": "waivers", "msg": msg, "fix": ""} if {
	count(input.vulns) > 0
	count(id_waivers) > 0
	some v in counted
	some w in waivers_for(v)
	live(w)
	msg := sprintf("%s in %s waived until %s by %s: %s", [v.id, lib.mv, w.expires, w.owner, w.reason])
}

warn contains {"rule": "exceptions", "msg": msg, "fix": ""} if {
	count(input.vulns) > 0
	count(input.vex) > 0
	some v in counted
	some s in vex_for(v)
	live(s)
	msg := sprintf("%s does not affect %s: %s%s per VEX %s (stated %s)%s", [
		v.id, lib.mv, s.status, lib.opt(", ", s.justification), s.source,
		lib.fmt_time(s.timestamp_ns), until(s),
	])
}

until(s) := "" if {
	s.expires_ns == 0
} else := sprintf("; the exception ends %s", [lib.fmt_time(s.expires_ns)])

warn contains {"rule": "waivers", "msg": msg, "fix": "renew or remove the waiver"} if {
	count(input.vulns) > 0
	count(id_waivers) > 0
	some v in hits
	some w in waivers_for(v)
	not live(w)
	msg := sprintf("waiver of %s for %s (owner %s: %s) expired on %s; %s denies it again", [v.id, lib.mv, w.owner, w.reason, w.expires, v.id])
}

warn contains {"rule": "exceptions", "msg": msg, "fix": "review it and restate it with modgate check --vex"} if {
	count(input.vulns) > 0
	count(input.vex) > 0
	some v in hits
	some s in vex_for(v)
	not live(s)
	msg := sprintf("the VEX statement of %s about %s in %s expired on %s", [s.source, v.id, lib.mv, lib.fmt_time(s.expires_ns)])
}

changes_at_ns contains x.expires_ns if {
	count(input.vulns) > 0
	count(id_waivers) > 0
	some v in counted
	some x in waivers_for(v)
	live(x)
	x.expires_ns > 0
}

changes_at_ns contains x.expires_ns if {
	count(input.vulns) > 0
	count(input.vex) > 0
	some v in counted
	some x in vex_for(v)
	live(x)
	x.expires_ns > 0
}
