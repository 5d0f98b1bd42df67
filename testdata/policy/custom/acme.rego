# A custom rule: modules from the acme-internal host must be tagged
# releases, and a client named "ci-bot" is warned about pre-releases.
package modgate.rules.acme

deny contains msg if {
	startswith(input.module, "acme.example/")
	input.pseudo
	msg := sprintf("%s: internal modules must be used at tagged versions", [input.module])
}

warn contains {"msg": msg, "rule": "acme.prerelease"} if {
	input.client == "ci-bot"
	input.prerelease
	msg := sprintf("%s@%s is a pre-release", [input.module, input.version])
}
