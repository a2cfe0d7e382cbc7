package workload

// One-line flow collections ({a: 1}, [x, y]) of the fast YAML path.

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
