# Rule allowlist: when lists.allowed is not empty, deny every module (or
# version) that no entry allows.
package modgate.rules.allowlist

import data.modgate.lib

module_entries := [e | some e in data.modgate.config.lists.allowed; lib.module_match(e, input.module)]

version_allowed if {
	some e in module_entries
	lib.version_in(input.version, e.versions)
}

deny contains {"msg": msg, "fix": "ask for the module to be added to lists.allowed"} if {
	count(data.modgate.config.lists.allowed) > 0
	count(module_entries) == 0
	msg := sprintf("%s is not on the allow list", [input.module])
}

deny contains {"msg": msg, "fix": fix} if {
	count(data.modgate.config.lists.allowed) > 0
	count(module_entries) > 0
	not version_allowed
	ranges := [r | some e in module_entries; r := e.versions_text]
	msg := sprintf("%s is outside the allowed versions (%s)", [lib.mv, concat(" or ", ranges)])
	fix := sprintf("use a version allowed by %s", [concat(" or ", ranges)])
}
