package workload

import (
	"bytes"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// This file converts one YAML document to JSON without building map[interface{}]interface{}
// values. sigs.k8s.io/yaml.YAMLToJSON parses with go.yaml.in/yaml/v2 (YAML 1.1 resolution),
// turns every key into a string and lets encoding/json marshal the result; that is most of
// a scan's CPU time. fastYAMLToJSON handles the block-style subset that Kubernetes
// manifests are written in and produces the very same bytes; anything else — anchors,
// aliases, tags, complex keys, multi-line plain or quoted scalars, tabs used as space,
// directives, document markers, CR line ends, non-string keys that do not convert, NaN and
// infinities (encoding/json rejects them), duplicate keys (whose winner depends on map
// order) — makes it give up, and yamlToJSON asks sigs.k8s.io/yaml instead, so its result
// and its errors are sigs.k8s.io/yaml's.

// yamlToJSON converts one YAML document to JSON, byte for byte as sigs.k8s.io/yaml.YAMLToJSON does.
func yamlToJSON(data []byte) ([]byte, error) {
	if js, ok := fastYAMLToJSON(data); ok {
		return js, nil
	}
	return yaml.YAMLToJSON(data)
}

const (
	// yjMaxDepth bounds collection nesting; deeper documents go to the fallback.
	yjMaxDepth = 100
	// yjMaxKeyLen: yaml v2 looks for the ':' of a simple key at most 1024 characters after the
	// key's start. Keys close to that limit go to the fallback (bytes ≥ characters).
	yjMaxKeyLen = 1000
	// yjMaxInput keeps offsets within int32.
	yjMaxInput = 1 << 30
)

// fastYAMLToJSON converts data, or reports false when data is outside the subset it is sure of.
func fastYAMLToJSON(data []byte) ([]byte, bool) {
	if len(data) > yjMaxInput || !yjCleanText(data) {
		return nil, false
	}
	p := yjParser{src: data, nodes: make([]yjNode, 1, len(data)/24+8)}
	root, ok := p.document()
	if !ok {
		return nil, false
	}
	return p.emit(make([]byte, 0, len(data)+len(data)/8+16), root)
}

// yjCleanText reports whether data holds only characters yaml v2's reader accepts and that
// the fast parser treats as ordinary text: printable characters, LF and tab. CR, NEL, LS and
// PS (all line breaks in YAML 1.1), the BOM and invalid UTF-8 go to the fallback, as do lines
// that start like a directive or a document marker.
func yjCleanText(data []byte) bool {
	if yjMarkerLine(data) {
		return false
	}
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if yjTextByte[c] {
				i++
				continue
			}
			if c != '\n' || yjMarkerLine(data[i+1:]) {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 || r < 0xA0 || r == 0x2028 || r == 0x2029 || r == 0xFEFF || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += size
	}
	return true
}

// yjMarkerLine reports whether line starts like a directive (%) or a document marker.
func yjMarkerLine(line []byte) bool {
	return len(line) > 0 && (line[0] == '%' || bytes.HasPrefix(line, []byte("---")) || bytes.HasPrefix(line, []byte("...")))
}

// yjTextByte marks the ASCII bytes yjCleanText passes without a look: printable ones and tab.
var yjTextByte = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'] = true
	return t
}()

type yjKind uint8

const (
	yjNull yjKind = iota
	yjTrue
	yjFalse
	yjString // val: the string's content
	yjNumber // val: its JSON text
	yjObject
	yjArray
)

// yjNode is one value; collections chain their members through first/last/next (indexes
// into yjParser.nodes; 0 is none).
type yjNode struct {
	kind              yjKind
	key               yjStr // member name, in an object
	val               yjStr
	first, last, next int32
}

// yjStr is text in the source (off ≥ 0) or in the parser's arena (at -off-1): offsets keep
// nodes small and stay valid when the arena grows.
type yjStr struct{ off, n int32 }

func (p *yjParser) str(s yjStr) []byte {
	if s.off >= 0 {
		return p.src[s.off : s.off+s.n]
	}
	o := -s.off - 1
	return p.arena[o : o+s.n]
}

func srcStr(start, end int) yjStr { return yjStr{int32(start), int32(end - start)} }

// arenaStr is the arena's text from base to its end.
func (p *yjParser) arenaStr(base int) yjStr {
	return yjStr{int32(-base - 1), int32(len(p.arena) - base)}
}

type yjParser struct {
	src   []byte
	pos   int // start of the line the parser is at, between nodes
	depth int
	nodes []yjNode
	arena []byte  // decoded strings and converted numbers
	order []int32 // scratch for sorting object members while emitting
}

func (p *yjParser) add(kind yjKind, val yjStr) int32 {
	p.nodes = append(p.nodes, yjNode{kind: kind, val: val})
	return int32(len(p.nodes) - 1)
}

func (p *yjParser) addChild(parent, child int32) {
	if p.nodes[parent].first == 0 {
		p.nodes[parent].first = child
	} else {
		p.nodes[p.nodes[parent].last].next = child
	}
	p.nodes[parent].last = child
}

// enter and leave bound the nesting depth.
func (p *yjParser) enter() bool {
	p.depth++
	return p.depth <= yjMaxDepth
}

func (p *yjParser) leave() { p.depth-- }

// lineEnd is the index of the '\n' ending the line holding i, or len(src).
func (p *yjParser) lineEnd(i int) int {
	if j := bytes.IndexByte(p.src[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(p.src)
}

func (p *yjParser) skipSpaces(i int) int {
	for i < len(p.src) && p.src[i] == ' ' {
		i++
	}
	return i
}

// blankz is yaml's is_blankz for src[i]: a space, tab, line break or the end.
func (p *yjParser) blankz(i int) bool {
	return i >= len(p.src) || p.src[i] == ' ' || p.src[i] == '\t' || p.src[i] == '\n'
}

// nextContent skips blank and comment lines from p.pos and returns where the next content
// line's first token is and its column; ok is false at the end of the document. p.pos is
// left at that line's start, so calling it again returns the same line. fail reports a
// tab in the indentation.
func (p *yjParser) nextContent() (at, col int, ok, fail bool) {
	for p.pos < len(p.src) {
		i := p.skipSpaces(p.pos)
		if i == len(p.src) {
			p.pos = i
			break
		}
		switch p.src[i] {
		case '\n':
			p.pos = i + 1
		case '#':
			p.pos = p.lineEnd(i)
		case '\t':
			return 0, 0, false, true
		default:
			return i, i - p.pos, true, false
		}
	}
	return 0, 0, false, false
}

// endLine accepts what may follow a node on its line — spaces and a comment — and moves
// p.pos to the next line. A comment needs a space before it.
func (p *yjParser) endLine(i int) bool {
	j := p.skipSpaces(i)
	if j < len(p.src) && p.src[j] == '#' && j > i {
		j = p.lineEnd(j)
	}
	if j == len(p.src) {
		p.pos = j
		return true
	}
	if p.src[j] != '\n' {
		return false
	}
	p.pos = j + 1
	return true
}

func (p *yjParser) isSeqEntry(at int) bool {
	return p.src[at] == '-' && p.blankz(at+1)
}

func (p *yjParser) document() (int32, bool) {
	at, col, ok, fail := p.nextContent()
	if fail {
		return 0, false
	}
	if !ok {
		return p.add(yjNull, yjStr{}), true // no content: yaml v2 leaves the value nil
	}
	root, ok := p.blockNode(at, col, -1)
	if !ok {
		return 0, false
	}
	if _, _, more, fail := p.nextContent(); more || fail {
		return 0, false
	}
	return root, true
}
