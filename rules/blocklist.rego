# Rule blocklist: deny modules (optionally only some versions) listed in
# lists.blocked, in gomodguard's vocabulary: each entry has a module pattern
# with match exact, prefix or regex, an optional version constraint, a reason
# and a recommended replacement.
package modgate.rules.blocklist

import data.modgate.lib

deny contains {"msg": msg, "fix": fix} if {
	some e in lib.setting(["lists", "blocked"], [])
	lib.module_match(e, input.module)
	lib.version_in(input.version, object.get(e, "versions", []))
	msg := sprintf("%s is blocked by the entry %s%s%s", [
		lib.mv,
		e.module,
		lib.opt(" ", object.get(e, "versions_text", "")),
		lib.opt(": ", object.get(e, "reason", "")),
	])
	fix := lib.opt("use ", object.get(e, "recommendation", ""))
}
