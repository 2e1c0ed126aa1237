package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Regular expressions are Go RE2: matching is linear in the input, so a policy
// cannot be a ReDoS vector and needs no "safe regex" heuristics (the upstream
// re-checked every pattern on every evaluation). Patterns written for
// backtracking engines may use constructs RE2 cannot run; they are rejected at
// Compile with the construct named, instead of failing to match at run time.

// unsupportedGroupPrefixes maps the opening of a group to the name of a
// backtracking-only construct. It is an immutable table.
var unsupportedGroupPrefixes = []struct{ prefix, name string }{
	{"(?<=", "look-behind"},
	{"(?<!", "negative look-behind"},
	{"(?=", "look-ahead"},
	{"(?!", "negative look-ahead"},
	{"(?>", "atomic group"},
	{"(?|", "branch reset group"},
	{"(?#", "comment group"},
	{"(?(", "conditional group"},
	{"(?R", "recursion"},
	{"(?&", "subroutine call"},
	{"(?P=", "named back-reference"},
	{"(?P>", "subroutine call"},
}

// compileRegexp compiles a $regex pattern, naming unsupported constructs.
func compileRegexp(pattern string) (*regexp.Regexp, error) {
	if construct, name := findUnsupportedRegex(pattern); construct != "" {
		return nil, fmt.Errorf("%s %q is not supported (RE2, linear time)", name, construct)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern: %w", err)
	}
	return re, nil
}

// findUnsupportedRegex scans a pattern for backtracking-only syntax outside
// character classes. It returns the construct as written and its name.
func findUnsupportedRegex(p string) (construct, name string) {
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' {
			if i+1 >= len(p) {
				return "", "" // regexp reports the trailing backslash
			}
			n := p[i+1]
			if n == 'Q' { // \Q...\E quotes literally, up to \E or the end
				end := strings.Index(p[i+2:], `\E`)
				if end < 0 {
					return "", ""
				}
				i += end + 3
				continue
			}
			if !inClass {
				switch {
				case n >= '1' && n <= '9':
					return p[i : i+2], "back-reference"
				case (n == 'k' || n == 'g') && i+2 < len(p) && strings.IndexByte("<{'0123456789-+", p[i+2]) >= 0:
					return p[i : i+3], "back-reference"
				}
			}
			i++
			continue
		}
		if inClass {
			switch {
			case c == '[' && i+1 < len(p) && p[i+1] == ':': // [:alpha:]
				if end := strings.Index(p[i+2:], ":]"); end >= 0 {
					i += end + 3
				}
			case c == ']':
				inClass = false
			}
			continue
		}
		switch c {
		case '[':
			inClass = true
			// A ']' first in the class (after an optional '^') is a literal.
			j := i + 1
			if j < len(p) && p[j] == '^' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			i = j - 1
		case '(':
			for _, g := range unsupportedGroupPrefixes {
				if strings.HasPrefix(p[i:], g.prefix) {
					return g.prefix, g.name
				}
			}
			if len(p) > i+2 && p[i+1] == '?' && p[i+2] >= '0' && p[i+2] <= '9' {
				return p[i : i+3], "recursion"
			}
			if strings.HasPrefix(p[i:], "(?") {
				i++ // the '?' opens flags or a group name, it is not a quantifier
			}
		case '*', '+', '?':
			if i+1 < len(p) && p[i+1] == '+' {
				return p[i : i+2], "possessive quantifier"
			}
			if i+1 < len(p) && p[i+1] == '?' {
				i++ // lazy quantifier
				if i+1 < len(p) && p[i+1] == '+' {
					return p[i-1 : i+2], "possessive quantifier"
				}
			}
		case '{':
			if end := repeatEnd(p, i); end > 0 {
				if end < len(p) && p[end] == '+' {
					return p[i : end+1], "possessive quantifier"
				}
				i = end - 1
			}
		}
	}
	return "", ""
}

// repeatEnd returns the index just past a {n}, {n,} or {n,m} quantifier that
// starts at p[i], or 0 if there is none (then '{' is a literal).
func repeatEnd(p string, i int) int {
	j := i + 1
	digits := func() int {
		k := j
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 {
		return 0
	}
	if j < len(p) && p[j] == ',' {
		j++
		digits()
	}
	if j < len(p) && p[j] == '}' {
		return j + 1
	}
	return 0
}

// glob is a compiled $glob or toolIds pattern: '*' matches any run of
// characters (including none, dots and slashes), '?' exactly one character,
// '\' escapes the next character; the whole string must match.
//
// Patterns without '?' (nearly all of them: "fs.*", "*@corp.com",
// "/srv/*/data/*.csv") are matched directly with prefix, suffix and substring
// searches, in linear time; patterns with '?' are translated to an anchored
// RE2 expression.
type glob struct {
	kind globKind
	// globExact: the literal. globStars: the non-empty literal runs between
	// stars, and whether the pattern starts or ends with a star.
	lit                string
	segs               []string
	startStar, endStar bool
	re                 *regexp.Regexp // globRegexp
}

type globKind uint8

const (
	globExact globKind = iota
	globStars
	globRegexp
)

var errGlobTrailingEscape = errors.New(`pattern ends with an unfinished escape "\" (write "\\" for a literal backslash)`)

func compileGlob(pattern string) (glob, error) {
	if !utf8.ValidString(pattern) {
		return glob{}, errors.New("pattern is not valid UTF-8")
	}
	var (
		g        glob
		lit      strings.Builder // current literal run, escapes removed
		re       strings.Builder // the pattern as RE2, used if it has a '?'
		stars    int
		question bool
		last     rune // last token: '*', '?' or 0 for a literal
	)
	re.WriteString(`^(?s:`)
	for i := 0; i < len(pattern); {
		r, size := utf8.DecodeRuneInString(pattern[i:])
		i += size
		switch r {
		case '*':
			if i == size {
				g.startStar = true
			}
			if lit.Len() > 0 {
				g.segs = append(g.segs, lit.String())
				lit.Reset()
			}
			stars++
			re.WriteString(`.*`)
			last = '*'
			continue
		case '?':
			question = true
			re.WriteString(`.`)
			last = '?'
			continue
		case '\\':
			if i >= len(pattern) {
				return glob{}, errGlobTrailingEscape
			}
			r, size = utf8.DecodeRuneInString(pattern[i:])
			i += size
		}
		lit.WriteRune(r)
		re.WriteString(regexp.QuoteMeta(string(r)))
		last = 0
	}
	re.WriteString(`)$`)
	switch {
	case question:
		compiled, err := regexp.Compile(re.String())
		if err != nil { // cannot happen: every literal is quoted
			return glob{}, fmt.Errorf("invalid pattern: %w", err)
		}
		return glob{kind: globRegexp, re: compiled}, nil
	case stars == 0:
		return glob{kind: globExact, lit: lit.String()}, nil
	}
	if lit.Len() > 0 {
		g.segs = append(g.segs, lit.String())
	}
	g.kind, g.endStar = globStars, last == '*'
	return g, nil
}

func (g *glob) match(s string) bool {
	switch g.kind {
	case globExact:
		return s == g.lit
	case globRegexp:
		return g.re.MatchString(s)
	}
	segs := g.segs
	if !g.startStar { // the first run is a prefix
		if !strings.HasPrefix(s, segs[0]) {
			return false
		}
		s, segs = s[len(segs[0]):], segs[1:]
	}
	if !g.endStar { // the last run is a suffix of what the prefix left
		if len(segs) == 0 {
			return s == ""
		}
		end := segs[len(segs)-1]
		if !strings.HasSuffix(s, end) {
			return false
		}
		s, segs = s[:len(s)-len(end)], segs[:len(segs)-1]
	}
	// Runs between stars: leftmost matches, in order, are always enough.
	for _, seg := range segs {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}
