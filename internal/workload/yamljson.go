package workload

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
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

// blockNode parses the node whose first token is at src[at], in column col, inside a block
// collection indented by indent (-1 at the top): a block sequence, a block mapping, or a
// scalar or flow collection that ends on this line (or a block scalar).
func (p *yjParser) blockNode(at, col, indent int) (int32, bool) {
	if p.isSeqEntry(at) {
		return p.sequence(at, col)
	}
	if _, _, _, isKey, ok := p.scanKey(at); !ok {
		return 0, false
	} else if isKey {
		return p.mapping(at, col)
	}
	return p.inlineValue(at, indent)
}

// emptyValue parses the value of a "key:" or "-" with nothing after it on the line: a node on
// the following lines indented deeper than the collection, or — for a mapping value only — a
// sequence at the mapping's own indentation (YAML lets "- " entries line up with their key).
// Otherwise the value is null.
func (p *yjParser) emptyValue(indent int, inMapping bool) (int32, bool) {
	at, col, ok, fail := p.nextContent()
	switch {
	case fail:
		return 0, false
	case !ok:
	case col > indent:
		return p.blockNode(at, col, indent)
	case col == indent && inMapping && p.isSeqEntry(at):
		return p.sequence(at, col)
	}
	return p.add(yjNull, yjStr{}), true
}

// sequence parses a block sequence whose first "-" is at src[at], in column col.
func (p *yjParser) sequence(at, col int) (int32, bool) {
	if !p.enter() {
		return 0, false
	}
	defer p.leave()
	seq := p.add(yjArray, yjStr{})
	for {
		i := p.skipSpaces(at + 1)
		var item int32
		var ok bool
		if i == len(p.src) || p.src[i] == '\n' || p.src[i] == '#' {
			if !p.endLine(at + 1) {
				return 0, false
			}
			item, ok = p.emptyValue(col, false)
		} else {
			item, ok = p.blockNode(i, col+i-at, col) // "- " and spaces are one byte a column
		}
		if !ok {
			return 0, false
		}
		p.addChild(seq, item)

		next, ncol, more, fail := p.nextContent()
		switch {
		case fail || more && ncol > col:
			return 0, false
		case !more || ncol < col || !p.isSeqEntry(next):
			return seq, true // the enclosing collection decides about that line
		}
		at = next
	}
}

// mapping parses a block mapping whose first key is at src[at], in column col.
func (p *yjParser) mapping(at, col int) (int32, bool) {
	if !p.enter() {
		return 0, false
	}
	defer p.leave()
	obj := p.add(yjObject, yjStr{})
	for {
		key, colon, ok := p.key(at)
		if !ok {
			return 0, false
		}
		var val int32
		i := p.skipSpaces(colon + 1)
		if i == len(p.src) || p.src[i] == '\n' || p.src[i] == '#' {
			if !p.endLine(colon + 1) {
				return 0, false
			}
			val, ok = p.emptyValue(col, true)
		} else {
			// A same-line value is never a block collection: "a: b: c" and "a: - b" are errors.
			val, ok = p.inlineValue(i, col)
		}
		if !ok {
			return 0, false
		}
		p.nodes[val].key = key
		p.addChild(obj, val)

		next, ncol, more, fail := p.nextContent()
		switch {
		case fail || more && ncol > col:
			return 0, false
		case !more || ncol < col:
			return obj, true
		}
		at = next
	}
}

// key parses the simple key at src[at] and returns its JSON name and the index of its ':'.
func (p *yjParser) key(at int) (name yjStr, colon int, ok bool) {
	start, end, colon, isKey, ok := p.scanKey(at)
	if !ok || !isKey || colon-at > yjMaxKeyLen {
		return yjStr{}, 0, false
	}
	if q := p.src[at]; q == '"' || q == '\'' {
		name, ok = p.quoted(at)
		return name, colon, ok
	}
	name, ok = p.plainKey(start, end)
	return name, colon, ok
}

// scanKey reports whether a simple key starts at src[at]: a single-line quoted scalar or a
// plain scalar followed by ':' and a blank. For a plain key it returns its text's bounds.
// ok is false for what the fast path does not handle (a tab, an unterminated quote).
func (p *yjParser) scanKey(at int) (start, end, colon int, isKey, ok bool) {
	s := p.src
	if s[at] == '"' || s[at] == '\'' {
		e, ok := p.quotedEnd(at)
		if !ok {
			return 0, 0, 0, false, false
		}
		j := p.skipSpaces(e)
		if j < len(s) && s[j] == ':' && p.blankz(j+1) {
			return at, e, j, true, true
		}
		return 0, 0, 0, false, true
	}
	if !p.plainStart(at, false) {
		return 0, 0, 0, false, true // not a key; inlineValue rejects it
	}
	for i := at; i < len(s); i++ {
		switch s[i] {
		case '\n':
			return 0, 0, 0, false, true
		case '\t':
			return 0, 0, 0, false, false
		case ' ':
			if i+1 < len(s) && s[i+1] == '#' {
				return 0, 0, 0, false, true
			}
		case ':':
			if p.blankz(i + 1) {
				end := i
				for s[end-1] == ' ' {
					end--
				}
				return at, end, i, true, true
			}
		}
	}
	return 0, 0, 0, false, true
}

// plainStart reports whether a plain scalar may start at src[at] (yaml v2's rule): not an
// indicator, except '-' — and in block context '?' and ':' — followed by a non-blank.
func (p *yjParser) plainStart(at int, flow bool) bool {
	switch p.src[at] {
	case '-':
		return !p.blankz(at + 1)
	case '?', ':':
		return !flow && !p.blankz(at+1)
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\t', '\n':
		return false
	}
	return true
}

// inlineValue parses a scalar, flow collection or block scalar that starts at src[at] and
// ends its line; indent is the enclosing block collection's (a block scalar needs it).
func (p *yjParser) inlineValue(at, indent int) (int32, bool) {
	switch p.src[at] {
	case '|', '>':
		return p.blockScalar(at, indent)
	case '"', '\'':
		end, ok := p.quotedEnd(at)
		if !ok {
			return 0, false
		}
		s, ok := p.quoted(at)
		if !ok || !p.endLine(end) {
			return 0, false
		}
		return p.add(yjString, s), true
	case '[', '{':
		n, end, ok := p.flowNode(at)
		if !ok || !p.endLine(end) {
			return 0, false
		}
		return n, true
	}
	if !p.plainStart(at, false) {
		return 0, false
	}
	s := p.src
	end := at
scan:
	for i := at; i < len(s); i++ {
		switch s[i] {
		case '\n':
			break scan
		case '\t':
			return 0, false
		case ' ':
			if i+1 < len(s) && s[i+1] == '#' {
				break scan
			}
		case ':':
			if p.blankz(i + 1) {
				return 0, false // "mapping values are not allowed in this context"
			}
		}
		if s[i] != ' ' {
			end = i + 1
		}
	}
	n, ok := p.plain(at, end)
	if !ok || !p.endLine(end) {
		return 0, false
	}
	return n, true
}

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

// blockScalar parses a literal (|) or folded (>) block scalar whose indicator is at src[at],
// inside a block collection indented by indent. It follows yaml v2's
// yaml_parser_scan_block_scalar step by step: the content indentation is the deepest of the
// leading empty lines and the first non-empty one (at least indent+1), folding joins two
// lines that do not start with a blank with a space unless empty lines lie between, and the
// chomping indicator decides about the final line break and trailing empty lines.
// Explicit indentation indicators go to the fallback.
func (p *yjParser) blockScalar(at, indent int) (int32, bool) {
	s := p.src
	literal := s[at] == '|'
	i := at + 1
	chomp := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		chomp = 1
		if s[i] == '-' {
			chomp = -1
		}
		i++
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		return 0, false
	}
	i = p.skipSpaces(i)
	if i < len(s) && s[i] == '#' {
		i = p.lineEnd(i)
	}
	if i < len(s) {
		if s[i] != '\n' {
			return 0, false // "did not find expected comment or line break"
		}
		i++
	} else {
		// The header ends the document: yaml v2 scans from the header's column, which
		// changes nothing since no content follows.
		p.pos = len(s)
		return p.add(yjString, yjStr{}), true
	}

	base := len(p.arena)
	width := 0 // the content's indentation, found by the first breaks call
	i, col, trailing, ok := p.blockBreaks(i, &width, indent)
	if !ok {
		return 0, false
	}
	leadingBreak, leadingBlank := false, false
	for col == width && i < len(s) {
		trailingBlank := s[i] == ' ' || s[i] == '\t'
		if !literal && leadingBreak && !leadingBlank && !trailingBlank {
			if trailing == 0 {
				p.arena = append(p.arena, ' ')
			}
		} else if leadingBreak {
			p.arena = append(p.arena, '\n')
		}
		leadingBreak = false
		p.arena = appendBreaks(p.arena, trailing)
		leadingBlank = trailingBlank

		e := p.lineEnd(i)
		p.arena = append(p.arena, s[i:e]...)
		i = e
		if i < len(s) {
			leadingBreak = true
			i++
		}
		if i, col, trailing, ok = p.blockBreaks(i, &width, indent); !ok {
			return 0, false
		}
	}
	if chomp != -1 && leadingBreak {
		p.arena = append(p.arena, '\n')
	}
	if chomp == 1 {
		p.arena = appendBreaks(p.arena, trailing)
	}
	p.pos = i - col // the line that ended the scalar is the next node's
	return p.add(yjString, p.arenaStr(base)), true
}

func appendBreaks(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, '\n')
	}
	return b
}

// blockBreaks is yaml_parser_scan_block_scalar_breaks: from the start of a line (i), it eats
// indentation and empty lines, counting them, and stops at the first non-empty line (or the
// end), returning its position and column. The first call fixes *width.
func (p *yjParser) blockBreaks(i int, width *int, indent int) (pos, col, breaks int, ok bool) {
	s := p.src
	maxIndent := 0
	for {
		col = 0
		for (*width == 0 || col < *width) && i < len(s) && s[i] == ' ' {
			i++
			col++
		}
		maxIndent = max(maxIndent, col)
		if i < len(s) && s[i] == '\t' && (*width == 0 || col < *width) {
			return 0, 0, 0, false // "found a tab character where an indentation space is expected"
		}
		if i >= len(s) || s[i] != '\n' {
			break
		}
		i++
		breaks++
	}
	if *width == 0 {
		*width = max(maxIndent, indent+1, 1)
	}
	return i, col, breaks, true
}

// flowNode parses the flow collection at src[at], which must end on the same line, and
// returns the index after it. The subset: plain scalars without ':' , '?' or comments,
// quoted scalars, nested flow collections, and "key: value" pairs in mappings only.
func (p *yjParser) flowNode(at int) (int32, int, bool) {
	if !p.enter() {
		return 0, 0, false
	}
	defer p.leave()
	s := p.src
	mapping := s[at] == '{'
	closer := byte(']')
	kind := yjArray
	if mapping {
		closer, kind = '}', yjObject
	}
	n := p.add(kind, yjStr{})
	i := p.skipSpaces(at + 1)
	if i < len(s) && s[i] == closer {
		return n, i + 1, true
	}
	for {
		var key yjStr
		if mapping {
			var ok bool
			if key, i, ok = p.flowKey(i); !ok {
				return 0, 0, false
			}
		}
		item, end, ok := p.flowValue(i)
		if !ok {
			return 0, 0, false
		}
		p.nodes[item].key = key
		p.addChild(n, item)
		i = p.skipSpaces(end)
		if i >= len(s) {
			return 0, 0, false
		}
		switch s[i] {
		case closer:
			return n, i + 1, true
		case ',':
			i = p.skipSpaces(i + 1)
			if i < len(s) && (s[i] == ']' || s[i] == '}' || s[i] == ',') {
				return 0, 0, false // a trailing or empty entry
			}
		default:
			return 0, 0, false
		}
	}
}

// flowKey parses "key:" in a flow mapping at src[i] and returns the key's JSON name and the
// index of the value after the ':' and any spaces.
func (p *yjParser) flowKey(i int) (yjStr, int, bool) {
	s := p.src
	if i >= len(s) {
		return yjStr{}, 0, false
	}
	var name yjStr
	var end int
	var ok bool
	switch s[i] {
	case '"', '\'':
		if end, ok = p.quotedEnd(i); !ok {
			return yjStr{}, 0, false
		}
		if name, ok = p.quoted(i); !ok {
			return yjStr{}, 0, false
		}
	default:
		if end, ok = p.flowPlain(i, true); !ok {
			return yjStr{}, 0, false
		}
		if name, ok = p.plainKey(i, end); !ok {
			return yjStr{}, 0, false
		}
	}
	j := p.skipSpaces(end)
	if j >= len(s) || s[j] != ':' || j-i > yjMaxKeyLen {
		return yjStr{}, 0, false
	}
	j = p.skipSpaces(j + 1)
	if j >= len(s) || s[j] == ',' || s[j] == '}' || s[j] == '\n' || s[j] == '#' {
		return yjStr{}, 0, false // a key without a value
	}
	return name, j, true
}

// flowValue parses a scalar or flow collection at src[i] inside a flow collection.
func (p *yjParser) flowValue(i int) (int32, int, bool) {
	s := p.src
	if i >= len(s) {
		return 0, 0, false
	}
	switch s[i] {
	case '[', '{':
		return p.flowNode(i)
	case '"', '\'':
		end, ok := p.quotedEnd(i)
		if !ok {
			return 0, 0, false
		}
		v, ok := p.quoted(i)
		if !ok {
			return 0, 0, false
		}
		return p.add(yjString, v), end, true
	}
	end, ok := p.flowPlain(i, false)
	if !ok {
		return 0, 0, false
	}
	n, ok := p.plain(i, end)
	return n, end, ok
}

// flowPlain scans a plain scalar in flow context at src[i] and returns its end: it ends at
// , [ ] { } and, for a key, at ':' before a blank; a ':' before anything else is part of it,
// inner spaces too, trailing ones not. '?', ": " in a value, a comment or a line break go
// to the fallback.
func (p *yjParser) flowPlain(i int, key bool) (end int, ok bool) {
	s := p.src
	if i >= len(s) || !p.plainStart(i, true) {
		return 0, false
	}
	end = i
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '[', ']', '{', '}':
			return end, true
		case ':':
			if !p.blankz(i + 1) {
				end = i + 1 // "c:1" is one scalar, in flow context too
				continue
			}
			if key {
				return end, true
			}
			return 0, false // a single-pair mapping in a sequence, or "a: b: c"
		case '?', '\n', '\t':
			return 0, false
		case '#':
			if s[i-1] == ' ' {
				return 0, false
			}
			end = i + 1
		case ' ':
		default:
			end = i + 1
		}
	}
	return 0, false // the line ended inside the collection
}

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
