package modgate_test.pseudo

import data.modgate.rules.pseudo
import data.modgate_test.fixtures as f

pv := f.inp({"version": "v0.0.0-20240101000000-abcdefabcdef", "pseudo": true, "prerelease": true})

test_allowed_by_default if {
	count(pseudo.deny) == 0 with input as pv with data.modgate.config as f.cfg_base
	count(pseudo.warn) == 0 with input as pv with data.modgate.config as f.cfg_base
}

test_warn if {
	ws := pseudo.warn with input as pv with data.modgate.config as f.cfg({"pseudo": "warn"})
	ws == {{"msg": "example.com/m@v0.0.0-20240101000000-abcdefabcdef is a pseudo-version (an untagged commit)"}}
	count(pseudo.deny) == 0 with input as pv with data.modgate.config as f.cfg({"pseudo": "warn"})
}

test_deny if {
	count(pseudo.deny) == 1 with input as pv with data.modgate.config as f.cfg({"pseudo": "deny"})
}

test_tagged_versions_unaffected if {
	count(pseudo.deny) == 0 with input as f.inp({}) with data.modgate.config as f.cfg({"pseudo": "deny"})
}
