# A bundle rule reading the bundle's own data document.
package modgate.rules.banned

deny contains {"msg": sprintf("%s is banned by the platform team", [input.module]), "fix": "vendor the code instead"} if {
	input.module in data.banned.modules
}
