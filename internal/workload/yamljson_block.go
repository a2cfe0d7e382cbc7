package workload

// Block structure: mappings, sequences, keys and inline values of the fast YAML path.

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
