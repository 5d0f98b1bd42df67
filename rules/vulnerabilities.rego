# Rule vulnerabilities: deny versions affected by reviewed Go vulnerability
# entries (unreviewed ones too with vulns.include_unreviewed; vulns.ignore
# lists IDs or aliases to skip). One finding names the entries (the first
# few, then a count; every ID is in the finding's ids) and the lowest
# version that fixes all of them.
package modgate.rules.vulnerabilities

import data.modgate.lib

hits := [v | some v in input.vulns; lib.vuln_counted(v)]

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

fix_hint := "no fixed version exists yet; remove the dependency or request a waiver" if {
	count(unfixed) > 0
} else := sprintf("upgrade to %s or later", [fixed_in])
