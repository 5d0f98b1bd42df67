# Rule blocklist: deny modules (optionally only some versions) listed in
# lists.blocked, in gomodguard's vocabulary: each entry has a module pattern
# with match exact, prefix or regex, an optional version constraint, a reason
# and a recommended replacement.
package modgate.rules.blocklist

import data.modgate.lib

deny contains {"msg": msg, "fix": fix} if {
	some e in data.modgate.config.lists.blocked
	lib.module_match(e, input.module)
	lib.version_in(input.version, e.versions)
	msg := sprintf("%s is blocked by the entry %s%s%s", [
		lib.mv,
		e.module,
		lib.opt(" ", e.versions_text),
		lib.opt(": ", e.reason),
	])
	fix := lib.opt("use ", e.recommendation)
}
