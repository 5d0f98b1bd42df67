# Rule vulnerabilities: deny versions affected by reviewed Go vulnerability
# entries (unreviewed ones too with vulns.include_unreviewed; vulns.ignore
# lists IDs or aliases to skip). One finding names every entry and the
# lowest version that fixes all of them.
package modgate.rules.vulnerabilities

import data.modgate.lib

hits := [v | some v in input.vulns; lib.vuln_counted(v)]

unfixed := [v.id | some v in hits; v.fixed == ""]

# fixed_in is the lowest version that fixes every hit: the highest of their
# fixed versions.
fixed_in := lib.max_version([v.fixed | some v in hits])

deny contains {"msg": msg, "fix": fix} if {
	count(input.vulns) > 0
	count(hits) > 0
	names := sort([lib.vuln_name(v) | some v in hits])
	msg := sprintf("%s is affected by %s; %s", [lib.mv, concat(", ", names), fix_text])
	fix := fix_hint
}

fix_text := sprintf("no fixed version is known for %s", [concat(", ", sort(unfixed))]) if {
	count(unfixed) > 0
} else := sprintf("fixed in %s", [fixed_in])

fix_hint := "no fixed version exists yet; remove the dependency or request a waiver" if {
	count(unfixed) > 0
} else := sprintf("upgrade to %s or later", [fixed_in])
