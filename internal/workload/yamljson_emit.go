package workload

// JSON output of the fast YAML path, encoded exactly as encoding/json would.

import (
	"bytes"
	"slices"
	"unicode/utf8"
)

// emit writes node i as json.Marshal writes the map[string]interface{} / []interface{}
// value sigs.k8s.io/yaml builds: no spaces, object members sorted by name (byte order).
// Two members with the same name — yaml v2 keeps the last of equal keys, but "1" and 1 are
// different keys that map order decides between — go to the fallback.
func (p *yjParser) emit(out []byte, i int32) ([]byte, bool) {
	n := &p.nodes[i]
	switch n.kind {
	case yjNull:
		return append(out, "null"...), true
	case yjTrue:
		return append(out, "true"...), true
	case yjFalse:
		return append(out, "false"...), true
	case yjNumber:
		return append(out, p.str(n.val)...), true
	case yjString:
		return appendJSONString(out, p.str(n.val)), true
	case yjArray:
		out = append(out, '[')
		for c := n.first; c != 0; c = p.nodes[c].next {
			if c != n.first {
				out = append(out, ',')
			}
			var ok bool
			if out, ok = p.emit(out, c); !ok {
				return nil, false
			}
		}
		return append(out, ']'), true
	}
	base := len(p.order)
	for c := n.first; c != 0; c = p.nodes[c].next {
		p.order = append(p.order, c)
	}
	members := p.order[base:]
	sorted := true
	for k := 1; k < len(members) && sorted; k++ {
		sorted = bytes.Compare(p.str(p.nodes[members[k-1]].key), p.str(p.nodes[members[k]].key)) < 0
	}
	if !sorted {
		slices.SortFunc(members, func(a, b int32) int { return bytes.Compare(p.str(p.nodes[a].key), p.str(p.nodes[b].key)) })
		for k := 1; k < len(members); k++ {
			if bytes.Equal(p.str(p.nodes[members[k-1]].key), p.str(p.nodes[members[k]].key)) {
				return nil, false
			}
		}
	}
	out = append(out, '{')
	for k := base; k < base+len(members); k++ {
		c := p.order[k] // p.order may grow (and move) while members are emitted
		if k != base {
			out = append(out, ',')
		}
		out = appendJSONString(out, p.str(p.nodes[c].key))
		out = append(out, ':')
		var ok bool
		if out, ok = p.emit(out, c); !ok {
			return nil, false
		}
	}
	p.order = p.order[:base]
	return append(out, '}'), true
}

// yjJSONSafe marks the ASCII bytes encoding/json copies as they are with HTML escaping on
// (json.Marshal's default): not control characters, '"', '\\', '<', '>' or '&'.
var yjJSONSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const yjHexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's appendString with escapeHTML: \b \f \n \r \t and \" \\
// short escapes, other control characters and < > & as \u00XX, U+2028 and U+2029 escaped,
// invalid UTF-8 as \ufffd.
func appendJSONString(dst, src []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		if b := src[i]; b < utf8.RuneSelf {
			if yjJSONSafe[b] {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', yjHexDigits[b>>4], yjHexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRune(src[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', yjHexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}
