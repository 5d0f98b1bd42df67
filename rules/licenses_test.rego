package modgate_test.licenses

import data.modgate.rules.licenses
import data.modgate_test.fixtures as f

lic(over) := f.cfg({"licenses": over})

test_no_config_allows_anything if {
	count(licenses.deny) == 0 with input as f.inp({"licenses": ["AGPL-3.0"]}) with data.modgate.config as f.cfg_base
	count(licenses.deny) == 0 with input as f.inp({"licenses": [], "license_status": "none"}) with data.modgate.config as f.cfg_base
}

test_deny_list if {
	c := lic({"deny": ["agpl-3.0"]})
	ds := licenses.deny with input as f.inp({"licenses": ["AGPL-3.0", "MIT"]}) with data.modgate.config as c
	ds == {{"msg": "example.com/m@v1.2.3 is licensed under AGPL-3.0, which is denied", "fix": "use a module under an allowed license or request a waiver"}}
	count(licenses.deny) == 0 with input as f.inp({"licenses": ["MIT"]}) with data.modgate.config as c
}

test_allow_list if {
	c := lic({"allow": ["mit", "apache-2.0", "bsd-3-clause"]})
	count(licenses.deny) == 0 with input as f.inp({"licenses": ["Apache-2.0", "MIT"]}) with data.modgate.config as c
	some d in licenses.deny with input as f.inp({"licenses": ["MIT", "GPL-2.0"]}) with data.modgate.config as c
	d.msg == "example.com/m@v1.2.3 is licensed under GPL-2.0, which is not on the allow list"
}

test_unknown_license_deny if {
	c := lic({"unknown": "deny"})
	some d in licenses.deny with input as f.inp({"licenses": [], "license_status": "none"}) with data.modgate.config as c
	d.msg == "example.com/m@v1.2.3 has no detected license"
}

test_unknown_license_warn if {
	c := lic({"unknown": "warn"})
	count(licenses.deny) == 0 with input as f.inp({"licenses": [], "license_status": "none"}) with data.modgate.config as c
	count(licenses.warn) == 1 with input as f.inp({"licenses": [], "license_status": "none"}) with data.modgate.config as c
}

test_unavailable_facts_only_matter_for_zips if {
	c := lic({"unknown": "deny", "allow": ["mit"]})
	count(licenses.deny) == 0 with input as f.inp({"kind": "list", "licenses": [], "license_status": "unavailable"}) with data.modgate.config as c
	count(licenses.deny) == 0 with input as f.inp({"kind": "info", "licenses": [], "license_status": "unavailable"}) with data.modgate.config as c
	some d in licenses.deny with input as f.inp({"kind": "zip", "licenses": [], "license_status": "unavailable"}) with data.modgate.config as c
	d.msg == "example.com/m@v1.2.3: no license facts are available"
}
