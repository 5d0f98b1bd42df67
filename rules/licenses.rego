# Rule licenses: deny versions whose detected licenses (SPDX IDs, compared
# case-insensitively) are on licenses.deny or, when licenses.allow is set,
# not all on it. licenses.unknown ("allow", "warn" or "deny") handles
# versions with no detected license; facts that are still unavailable count
# as unknown only for zip requests, so listing never waits for a zip scan.
package modgate.rules.licenses

import data.modgate.lib

# Each body tests the configuration first, so an unconfigured rule costs
# one lookup per body.
unknown if input.license_status == "none"

unknown if {
	input.license_status == "unavailable"
	input.kind == "zip"
}

denied := {id | some id in input.licenses; lower(id) in data.modgate.config.licenses.deny}

not_allowed := {id | some id in input.licenses; not lower(id) in data.modgate.config.licenses.allow}

fix := "use a module under an allowed license or request a waiver"

deny contains {"msg": msg, "fix": fix} if {
	count(data.modgate.config.licenses.deny) > 0
	count(denied) > 0
	msg := sprintf("%s is licensed under %s, which is denied", [lib.mv, concat(", ", sort(denied))])
}

deny contains {"msg": msg, "fix": fix} if {
	count(data.modgate.config.licenses.allow) > 0
	count(not_allowed) > 0
	msg := sprintf("%s is licensed under %s, which is not on the allow list", [lib.mv, concat(", ", sort(not_allowed))])
}

deny contains {"msg": unknown_msg} if {
	data.modgate.config.licenses.unknown == "deny"
	unknown
}

warn contains {"msg": unknown_msg} if {
	data.modgate.config.licenses.unknown == "warn"
	unknown
}

unknown_msg := sprintf("%s has no detected license", [lib.mv]) if {
	input.license_status == "none"
} else := sprintf("%s: no license facts are available", [lib.mv])
