package vulndb

import (
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// semv is a parsed semantic version. Comparing two semvs is cheap and
// allocation-free, which keeps [Index.Affects] fast: versions in the index
// are parsed once at build time and the queried version once per call.
//
// Build metadata (such as "+incompatible") is dropped, as
// golang.org/x/mod/semver ignores it when comparing.
type semv struct {
	major, minor, patch uint64
	// pre is the prerelease without its leading '-'; "" for a release.
	pre string
}

// maxNumLen bounds numeric components so they fit in a uint64. Longer
// numbers are valid semver but appear in no Go version; such versions are
// rejected rather than compared wrongly.
const maxNumLen = 19

// parseSemver parses a "v"-prefixed semantic version, accepting the
// shorthands "vX" and "vX.Y" like golang.org/x/mod/semver. It reports
// false for anything golang.org/x/mod/semver would not accept.
func parseSemver(v string) (semv, bool) {
	var p semv
	if len(v) < 2 || v[0] != 'v' {
		return p, false
	}
	v = v[1:]
	var ok bool
	if p.major, v, ok = parseNum(v); !ok {
		return p, false
	}
	if v == "" {
		return p, true
	}
	if v[0] != '.' {
		return p, false
	}
	if p.minor, v, ok = parseNum(v[1:]); !ok {
		return p, false
	}
	if v == "" {
		return p, true
	}
	if v[0] != '.' {
		return p, false
	}
	if p.patch, v, ok = parseNum(v[1:]); !ok {
		return p, false
	}
	if v != "" && v[0] == '-' {
		end := strings.IndexByte(v, '+')
		if end < 0 {
			end = len(v)
		}
		p.pre = v[1:end]
		if !validIdents(p.pre, true) {
			return p, false
		}
		v = v[end:]
	}
	if v != "" {
		if v[0] != '+' || !validIdents(v[1:], false) {
			return p, false
		}
	}
	return p, true
}

// parseNum parses a decimal number without leading zeros at the start of s.
func parseNum(s string) (n uint64, rest string, ok bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || i > maxNumLen || (s[0] == '0' && i > 1) {
		return 0, s, false
	}
	for _, c := range s[:i] {
		n = n*10 + uint64(c-'0')
	}
	return n, s[i:], true
}

// validIdents reports whether s is a dot-separated list of non-empty
// [0-9A-Za-z-] identifiers; in a prerelease, numeric identifiers must not
// have leading zeros.
func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if pre && isNum(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
		start = i + 1
	}
	return true
}

func isNum(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// compare returns -1, 0 or +1 as a is less than, equal to or greater than b,
// with the ordering of golang.org/x/mod/semver.Compare.
func (a semv) compare(b semv) int {
	switch {
	case a.major != b.major:
		return cmpU(a.major, b.major)
	case a.minor != b.minor:
		return cmpU(a.minor, b.minor)
	case a.patch != b.patch:
		return cmpU(a.patch, b.patch)
	}
	return comparePre(a.pre, b.pre)
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// comparePre compares prereleases per semver 2.0.0 §11: a release sorts
// after all its prereleases; identifiers compare one by one, numeric ones
// numerically and below alphanumeric ones; a longer list wins a tie.
func comparePre(x, y string) int {
	if x == y {
		return 0
	}
	if x == "" {
		return +1
	}
	if y == "" {
		return -1
	}
	for x != "" && y != "" {
		var dx, dy string
		dx, x = nextIdent(x)
		dy, y = nextIdent(y)
		if dx == dy {
			continue
		}
		nx, ny := isNum(dx), isNum(dy)
		switch {
		case nx && ny:
			if len(dx) != len(dy) {
				if len(dx) < len(dy) {
					return -1
				}
				return +1
			}
			if dx < dy {
				return -1
			}
			return +1
		case nx:
			return -1
		case ny:
			return +1
		case dx < dy:
			return -1
		default:
			return +1
		}
	}
	if x == "" {
		if y == "" {
			return 0
		}
		return -1
	}
	return +1
}

func nextIdent(s string) (id, rest string) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// String returns the canonical "vX.Y.Z[-pre]" form.
func (a semv) String() string {
	s := "v" + strconv.FormatUint(a.major, 10) + "." + strconv.FormatUint(a.minor, 10) + "." + strconv.FormatUint(a.patch, 10)
	if a.pre != "" {
		s += "-" + a.pre
	}
	return s
}

// osvVersion turns a version from an OSV range event ("1.2.3", or
// tolerated "v1.2.3"/"go1.2.3") into canonical "v" form, reporting false if
// it is not a valid semantic version.
func osvVersion(s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, "go"):
		s = GoVersionToSemver(s)
	case !strings.HasPrefix(s, "v"):
		s = "v" + s
	}
	if !semver.IsValid(s) {
		return "", false
	}
	return s, true
}

// GoVersionToSemver converts a Go release name ("go1.21.3", "go1.21rc2",
// "go1.20", "go1.9.2rc2", "go1") to the semantic version the vulnerability
// database uses for the stdlib and toolchain pseudo-modules ("v1.21.3",
// "v1.21.0-rc.2", "v1.20.0", "v1.9.2-rc.2", "v1.0.0"). It returns "" for
// anything else.
func GoVersionToSemver(v string) string {
	rest, ok := strings.CutPrefix(v, "go")
	if !ok || rest == "" {
		return ""
	}
	// Split off a "beta"/"rc" suffix.
	var kind, num string
	for _, k := range []string{"beta", "rc"} {
		if i := strings.Index(rest, k); i > 0 {
			kind, num, rest = k, rest[i+len(k):], rest[:i]
			break
		}
	}
	if kind != "" && (!isNum(num) || num[0] == '0') {
		return ""
	}
	parts := strings.Split(rest, ".")
	if len(parts) > 3 {
		return ""
	}
	for _, p := range parts {
		if !isNum(p) || (len(p) > 1 && p[0] == '0') {
			return ""
		}
	}
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	s := "v" + strings.Join(parts, ".")
	if kind != "" {
		s += "-" + kind + "." + num
	}
	if !semver.IsValid(s) {
		return ""
	}
	return s
}

// toolchainGoVersion extracts the Go version from a golang.org/toolchain
// module version such as "v0.0.1-go1.21.3.linux-amd64", returning
// "go1.21.3".
func toolchainGoVersion(v string) (string, bool) {
	rest, ok := strings.CutPrefix(v, "v0.0.1-")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || !strings.HasPrefix(rest, "go") || !strings.Contains(rest[i+1:], "-") {
		return "", false
	}
	return rest[:i], true
}
