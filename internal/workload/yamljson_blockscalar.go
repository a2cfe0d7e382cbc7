package workload

// Literal and folded block scalars (|, >) of the fast YAML path, step for step as yaml v2.

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
