package policy

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The direct star matcher must agree with the RE2 translation of the glob.
func TestGlobMatchesRegexpTranslation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(alphabet string, max int) string {
		var b strings.Builder
		for n := rng.IntN(max + 1); n > 0; n-- {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 20000; i++ {
		pattern, s := pick("ab*.", 7), pick("ab.", 9)
		g, err := compileGlob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`^(?s:` + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, `.*`) + `)$`)
		if got, want := g.match(s), re.MatchString(s); got != want {
			t.Fatalf("glob %q on %q = %v, want %v", pattern, s, got, want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at.all", true},
		{"fs.*", "fs.", true},
		{"fs.*", "fs", false},
		{"*@corp.com", "a@corp.com", true},
		{"*@corp.com", "a@corp.com.evil", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"/srv/*/data/*.csv", "/srv/x/y/data/z.csv", true},
		{"/srv/*/data/*.csv", "/srv/x/data/z.csv.gz", false},
		{"log?.txt", "logé.txt", true}, // ? is one character, not one byte
		{"log?.txt", "log.txt", false},
		{`\?`, "?", true},
		{`\?`, "a", false},
		{`a\\b`, `a\b`, true},
		{"*a?c*", "xxabcxx", true},
	} {
		g, err := compileGlob(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		if got := g.match(tc.s); got != tc.want {
			t.Errorf("glob %q on %q = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	if _, err := compileGlob("a\xff"); err == nil {
		t.Error("invalid UTF-8 pattern accepted")
	}
}
