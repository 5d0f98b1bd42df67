# Rule licenses: deny versions whose detected licenses (SPDX IDs, compared
# case-insensitively) are on licenses.deny or, when licenses.allow is set,
# not all on it. licenses.unknown ("allow", "warn" or "deny") handles
# versions with no detected license; facts that are still unavailable count
# as unknown only for zip requests, so listing never waits for a zip scan.
package modgate.rules.licenses

import data.modgate.lib

status := input.license_status

ids := input.licenses

unknown if status == "none"

unknown if {
	status == "unavailable"
	input.kind == "zip"
}

unknown_action := data.modgate.config.licenses.unknown

denied := {id |
	count(data.modgate.config.licenses.deny) > 0
	some id in ids
	lower(id) in data.modgate.config.licenses.deny
}

not_allowed := {id |
	count(data.modgate.config.licenses.allow) > 0
	some id in ids
	not lower(id) in data.modgate.config.licenses.allow
}

deny contains {"msg": msg, "fix": "use a module under an allowed license or request a waiver"} if {
	count(denied) > 0
	msg := sprintf("%s is licensed under %s, which is denied", [lib.mv, concat(", ", sort(denied))])
}

deny contains {"msg": msg, "fix": "use a module under an allowed license or request a waiver"} if {
	count(not_allowed) > 0
	msg := sprintf("%s is licensed under %s, which is not on the allow list", [lib.mv, concat(", ", sort(not_allowed))])
}

deny contains {"msg": unknown_msg} if {
	unknown
	unknown_action == "deny"
}

warn contains {"msg": unknown_msg} if {
	unknown
	unknown_action == "warn"
}

unknown_msg := sprintf("%s has no detected license", [lib.mv]) if {
	status == "none"
} else := sprintf("%s: no license facts are available", [lib.mv])
