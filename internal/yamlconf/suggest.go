package yamlconf

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DidYouMean returns ` (did you mean "x"?)` for the candidate x that
// [Suggest] picks for name, or "" when none is close: the suffix of every
// "unknown" message, so they all read alike.
func DidYouMean(name string, candidates ...string) string {
	if s := Suggest(name, candidates); s != "" && s != name {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Suggest returns the candidate closest to name, for "did you mean"
// messages, or "" when none is close enough. Closeness is the edit
// distance ignoring case, counting insertions, deletions, substitutions
// and swaps of adjacent letters; a candidate qualifies within one edit per
// three letters of name (at least one). Ties go to the earlier candidate.
func Suggest(name string, candidates []string) string {
	best, bestDist := "", max(1, utf8.RuneCountInString(name)/3)+1
	for _, c := range candidates {
		if d := distance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance between a and b,
// ignoring case.
func distance(a, b string) int {
	s, t := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	// Rows i-2, i-1 and i of the usual table; a swap looks two rows back.
	prev2, prev, cur := make([]int, len(t)+1), make([]int, len(t)+1), make([]int, len(t)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur[0] = i
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(t)]
}
