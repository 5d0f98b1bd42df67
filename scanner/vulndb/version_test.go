package vulndb

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/mod/semver"
)

// randVersion returns a version string that is valid semver most of the
// time, drawn from small alphabets so that ties and prefixes are common.
func randVersion(r *rand.Rand) string {
	nums := []string{"0", "1", "2", "10", "01", "9"}
	ids := []string{"0", "1", "2", "10", "rc", "beta", "alpha", "a-b", "01", "20230101000000", "abcdef123456", "0.20230101000000-abcdef123456", ""}
	v := "v" + nums[r.IntN(len(nums))]
	if r.IntN(8) > 0 {
		v += "." + nums[r.IntN(len(nums))]
		if r.IntN(8) > 0 {
			v += "." + nums[r.IntN(len(nums))]
		}
	}
	if r.IntN(2) == 0 {
		v += "-" + ids[r.IntN(len(ids))]
		for r.IntN(3) == 0 {
			v += "." + ids[r.IntN(len(ids))]
		}
	}
	if r.IntN(4) == 0 {
		v += "+incompatible"
	}
	return v
}

// TestSemverMatchesXMod checks parseSemver/compare against
// golang.org/x/mod/semver on random versions.
func TestSemverMatchesXMod(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a, b := randVersion(r), randVersion(r)
		pa, oka := parseSemver(a)
		pb, okb := parseSemver(b)
		if oka != semver.IsValid(a) {
			t.Fatalf("parseSemver(%q) ok = %v, semver.IsValid = %v", a, oka, !oka)
		}
		if okb != semver.IsValid(b) {
			t.Fatalf("parseSemver(%q) ok = %v, semver.IsValid = %v", b, okb, !okb)
		}
		if !oka || !okb {
			continue
		}
		if got, want := pa.compare(pb), semver.Compare(a, b); got != want {
			t.Fatalf("compare(%q, %q) = %d, want %d", a, b, got, want)
		}
		if got, want := pa.String(), semver.Canonical(a); got != stripBuild(want) {
			t.Fatalf("parseSemver(%q).String() = %q, want %q", a, got, want)
		}
	}
}

func stripBuild(v string) string {
	if b := semver.Build(v); b != "" {
		return v[:len(v)-len(b)]
	}
	return v
}

func TestGoVersionToSemver(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"go1", "v1.0.0"},
		{"go1.20", "v1.20.0"},
		{"go1.21.0", "v1.21.0"},
		{"go1.21.3", "v1.21.3"},
		{"go1.21rc2", "v1.21.0-rc.2"},
		{"go1.9.2rc2", "v1.9.2-rc.2"},
		{"go1.18beta1", "v1.18.0-beta.1"},
		{"go1.21rc", ""},
		{"go1.x", ""},
		{"1.21", ""},
		{"go", ""},
	} {
		if got := GoVersionToSemver(tc.in); got != tc.want {
			t.Errorf("GoVersionToSemver(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestToolchainGoVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"v0.0.1-go1.21.3.linux-amd64", "go1.21.3", true},
		{"v0.0.1-go1.21rc2.darwin-arm64", "go1.21rc2", true},
		{"v0.0.1-go1.22.0.windows-386", "go1.22.0", true},
		{"v0.0.1-go1.21.3", "", false},
		{"v1.21.3", "", false},
	} {
		got, ok := toolchainGoVersion(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("toolchainGoVersion(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
