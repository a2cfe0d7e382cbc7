package workload

// Single- and double-quoted scalars of the fast YAML path, with yaml v2's escapes.

import (
	"unicode/utf8"
)

// quotedEnd returns the index after the closing quote of the single-line quoted scalar at
// src[at]. Quoted scalars that go on to another line (and so fold) go to the fallback.
func (p *yjParser) quotedEnd(at int) (int, bool) {
	s := p.src
	q := s[at]
	for i := at + 1; i < len(s); i++ {
		switch s[i] {
		case '\n':
			return 0, false
		case q:
			if q == '\'' && i+1 < len(s) && s[i+1] == '\'' {
				i++
				continue
			}
			return i + 1, true
		case '\\':
			if q == '"' {
				i++ // skip the escaped character, unless it is a line break (folding)
				if i < len(s) && s[i] == '\n' {
					return 0, false
				}
			}
		}
	}
	return 0, false
}

// quoted decodes the single-line quoted scalar at src[at] (already delimited by quotedEnd).
// Without escapes or doubled quotes the result refers to src.
func (p *yjParser) quoted(at int) (yjStr, bool) {
	s := p.src
	q := s[at]
	i := at + 1
	start := i
	for s[i] != q && s[i] != '\\' {
		i++
	}
	if s[i] == q && (q == '"' || i+1 >= len(s) || s[i+1] != '\'') {
		return srcStr(start, i), true
	}
	base := len(p.arena)
	p.arena = append(p.arena, s[start:i]...)
	for {
		c := s[i]
		switch {
		case c == '\'' && q == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				p.arena = append(p.arena, '\'')
				i += 2
				continue
			}
			return p.arenaStr(base), true
		case c == '"' && q == '"':
			return p.arenaStr(base), true
		case c == '\\' && q == '"':
			n, ok := p.escape(i)
			if !ok {
				return yjStr{}, false
			}
			i = n
		default:
			p.arena = append(p.arena, c)
			i++
		}
	}
}

// yjEscapes maps yaml v2's single-character double-quote escapes to what they stand for.
// Note YAML has no "\/", and "\<TAB>" is a tab.
var yjEscapes = [256]string{
	'0': "\x00", 'a': "\a", 'b': "\b", 't': "\t", '\t': "\t", 'n': "\n", 'v': "\v", 'f': "\f",
	'r': "\r", 'e': "\x1b", ' ': " ", '"': "\"", '\'': "'", '\\': "\\",
	'N': "\u0085", '_': "\u00a0", 'L': "\u2028", 'P': "\u2029",
}

// escape decodes the escape sequence at src[i] (a backslash) into the arena and returns the
// index after it.
func (p *yjParser) escape(i int) (int, bool) {
	s := p.src
	if i+1 >= len(s) {
		return 0, false
	}
	c := s[i+1]
	if e := yjEscapes[c]; e != "" {
		p.arena = append(p.arena, e...)
		return i + 2, true
	}
	digits := 0
	switch c {
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		return 0, false // "found unknown escape character"
	}
	i += 2
	if i+digits > len(s) {
		return 0, false
	}
	v := 0
	for _, h := range s[i : i+digits] {
		d, ok := yjHex(h)
		if !ok {
			return 0, false
		}
		v = v<<4 | d
	}
	if v >= 0xD800 && v <= 0xDFFF || v > 0x10FFFF {
		return 0, false // "found invalid Unicode character escape code"
	}
	p.arena = utf8.AppendRune(p.arena, rune(v))
	return i + digits, true
}

func yjHex(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}
