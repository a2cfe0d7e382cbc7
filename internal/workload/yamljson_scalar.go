package workload

// Plain scalars of the fast YAML path and their YAML 1.1 resolution (bool, null, int, float).

import (
	"math"
	"strconv"
	"strings"
)

// plain resolves a plain scalar value as yaml v2 does (see yjResolve) into a node.
func (p *yjParser) plain(start, end int) (int32, bool) {
	r := yjResolve(p.src[start:end])
	switch r.kind {
	case yjrString:
		return p.add(yjString, srcStr(start, end)), true
	case yjrNull:
		return p.add(yjNull, yjStr{}), true
	case yjrBool:
		if r.b {
			return p.add(yjTrue, yjStr{}), true
		}
		return p.add(yjFalse, yjStr{}), true
	case yjrDecimal:
		return p.add(yjNumber, srcStr(start, end)), true
	case yjrInt:
		return p.add(yjNumber, p.number(strconv.AppendInt(p.arena, r.i, 10))), true
	case yjrUint:
		return p.add(yjNumber, p.number(strconv.AppendUint(p.arena, r.u, 10))), true
	case yjrFloat:
		return p.add(yjNumber, p.number(appendJSONFloat(p.arena, r.f))), true
	}
	return 0, false
}

// number takes the text just appended to the arena (grown is the arena after appending).
func (p *yjParser) number(grown []byte) yjStr {
	base := len(p.arena)
	p.arena = grown
	return p.arenaStr(base)
}

// plainKey resolves a plain mapping key. sigs.k8s.io/yaml turns int and bool keys into
// their decimal or true/false text; null keys, uint64 keys and float keys (formatted as
// float32 there) go to the fallback, and so does "<<", yaml v2's merge key.
func (p *yjParser) plainKey(start, end int) (yjStr, bool) {
	text := p.src[start:end]
	r := yjResolve(text)
	switch r.kind {
	case yjrString, yjrDecimal:
		return srcStr(start, end), string(text) != "<<"
	case yjrBool:
		return p.number(strconv.AppendBool(p.arena, r.b)), true
	case yjrInt:
		return p.number(strconv.AppendInt(p.arena, r.i, 10)), true
	}
	return yjStr{}, false
}

type yjrKind uint8

const (
	yjrString  yjrKind = iota
	yjrNull            //
	yjrBool            //
	yjrDecimal         // an int whose decimal text is already how JSON writes it
	yjrInt             // an int64
	yjrUint            // a uint64 above the int64 range
	yjrFloat           // a finite float64
	yjrReject          // NaN, ±Inf (encoding/json refuses them) and the merge key
)

type yjResolved struct {
	kind yjrKind
	b    bool
	i    int64
	u    uint64
	f    float64
}

// yjHint is yaml v2's resolveTable: only plain scalars starting with one of these can be
// anything but a string.
var yjHint = [256]byte{
	'+': 'S', '-': 'S',
	'0': 'D', '1': 'D', '2': 'D', '3': 'D', '4': 'D', '5': 'D', '6': 'D', '7': 'D', '8': 'D', '9': 'D',
	'y': 'M', 'Y': 'M', 'n': 'M', 'N': 'M', 't': 'M', 'T': 'M', 'f': 'M', 'F': 'M', 'o': 'M', 'O': 'M', '~': 'M',
	'.': '.',
}

// yjResolve is yaml v2's resolve() for an untagged plain scalar, YAML 1.1 rules:
// y/yes/true/on and n/no/false/off in three spellings each are booleans, ~ and null are
// null, ints may be 0x hex, 0o or leading-zero octal, 0b binary, signed, with '_'
// separators, and what ParseInt rejects may still be a uint64 or a float. Timestamps such
// as 2001-12-14 resolve to a time but are decoded into interface{} as their text, so they
// stay strings here (none of them parses as a number either).
func yjResolve(text []byte) yjResolved {
	if len(text) == 0 {
		return yjResolved{kind: yjrNull}
	}
	hint := yjHint[text[0]]
	if hint == 0 {
		return yjResolved{}
	}
	switch string(text) {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return yjResolved{kind: yjrBool, b: true}
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return yjResolved{kind: yjrBool}
	case "~", "null", "Null", "NULL":
		return yjResolved{kind: yjrNull}
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return yjResolved{kind: yjrReject}
	}
	switch hint {
	case '.':
		if f, err := strconv.ParseFloat(string(text), 64); err == nil {
			return yjFloat(f)
		}
	case 'D', 'S':
		if yjIsDecimal(text) {
			return yjResolved{kind: yjrDecimal}
		}
		if !yjNumeric(text) {
			return yjResolved{} // e.g. 100m, --port=80, -Xmx1g: no parser below accepts them
		}
		return yjResolveNumber(strings.ReplaceAll(string(text), "_", ""))
	}
	return yjResolved{}
}

// yjIsDecimal: short digit strings without a leading zero (which would be octal), maybe
// negative, are ints that JSON writes exactly as they are written.
func yjIsDecimal(text []byte) bool {
	d := text
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 || d[0] == '0' && len(d) > 1 || d[0] == '0' && len(d) != len(text) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// yjNumeric reports whether text holds only characters that ParseInt/ParseUint with base
// prefixes, yaml's float pattern or the 0b forms can accept: digits, hex letters, the
// prefix letters x and o, signs, '.' and '_'.
func yjNumeric(text []byte) bool {
	for _, c := range text {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		case c == 'x', c == 'X', c == 'o', c == 'O', c == '+', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

// yjResolveNumber is the numeric part of resolve for hints 'D' and 'S', on the text with
// its underscores removed, in yaml v2's order.
func yjResolveNumber(plain string) yjResolved {
	if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return yjResolved{kind: yjrInt, i: i}
	}
	if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return yjResolved{kind: yjrUint, u: u}
	}
	if yjYAMLStyleFloat(plain) {
		if f, err := strconv.ParseFloat(plain, 64); err == nil {
			return yjFloat(f)
		}
	}
	if len(plain) > 2 && plain[:2] == "0b" {
		if i, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
			return yjResolved{kind: yjrInt, i: i}
		}
		if u, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
			return yjResolved{kind: yjrUint, u: u}
		}
	} else if len(plain) > 3 && plain[:3] == "-0b" {
		if i, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
			return yjResolved{kind: yjrInt, i: i}
		}
	}
	return yjResolved{}
}

func yjFloat(f float64) yjResolved {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return yjResolved{kind: yjrReject}
	}
	return yjResolved{kind: yjrFloat, f: f}
}

// yjYAMLStyleFloat matches yaml v2's ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$.
func yjYAMLStyleFloat(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	} else {
		if digits() == 0 {
			return false
		}
		if i < len(s) && s[i] == '.' {
			i++
			digits()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// appendJSONFloat writes f as encoding/json writes a float64: like %g, but with the
// exponent cut-offs 1e-6 and 1e21 and exponents not padded to two digits.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
