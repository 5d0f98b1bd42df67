# Rule deprecated: warn about modules whose latest go.mod carries a
# "// Deprecated:" comment on its module line.
package modgate.rules.deprecated

import data.modgate.lib

warn contains {"msg": msg} if {
	input.deprecated == true
	msg := sprintf("module %s is deprecated%s", [
		input.module,
		lib.opt(": ", input.deprecation),
	])
}
