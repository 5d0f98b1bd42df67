# Rule pseudo: pseudo-versions (untagged commits) are allowed, warned about
# or denied according to the pseudo setting.
package modgate.rules.pseudo

import data.modgate.lib

action := data.modgate.config.pseudo

msg := sprintf("%s is a pseudo-version (an untagged commit)", [lib.mv])

deny contains {"msg": msg, "fix": "ask the maintainers to tag a release and use it"} if {
	input.pseudo == true
	action == "deny"
}

warn contains {"msg": msg} if {
	input.pseudo == true
	action == "warn"
}
