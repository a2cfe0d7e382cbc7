package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/outrider-sec/outrider/internal/policy"
)

// Stream renders a report while the scan runs. Text and JSON are written as each part (the
// results of one input) arrives, so memory does not grow with the number of findings; SARIF and
// JUnit need the whole result and are rendered at Close.
type Stream struct {
	format string
	opts   Options
	bw     *bufio.Writer
	text   *textWriter
	// errors are rendered at Close in every format; all collects everything for SARIF and JUnit.
	errors   []InputError
	all      *Result
	findings int // JSON: findings written so far
}

// NewStream starts a report in format (one of Formats) on w.
func NewStream(w io.Writer, format string, opts Options) (*Stream, error) {
	s := &Stream{format: format, opts: opts, bw: bufio.NewWriterSize(w, 64<<10)}
	switch format {
	case "text":
		s.text = &textWriter{w: s.bw, color: opts.Color}
	case "json":
		if _, err := s.bw.WriteString("{\n  \"findings\": ["); err != nil {
			return nil, err
		}
	case "sarif", "junit":
		s.all = &Result{}
	default:
		return nil, fmt.Errorf("%w %q (want one of: %s)", ErrUnknownFormat, format, strings.Join(Formats, ", "))
	}
	return s, nil
}

// Add renders one part of the result: objects evaluated, their findings and input errors, in
// input order. Errors are listed at the end, after every finding.
func (s *Stream) Add(part *Result) error {
	s.errors = append(s.errors, part.Errors...)
	switch s.format {
	case "text":
		s.text.groups(part, s.opts)
		return s.text.err
	case "json":
		for i := range part.Findings {
			if err := s.jsonFinding(&part.Findings[i]); err != nil {
				return err
			}
		}
		return nil
	default:
		s.all.Resources = append(s.all.Resources, part.Resources...)
		s.all.Findings = append(s.all.Findings, part.Findings...)
		return nil
	}
}

// jsonFinding writes one element of the findings array, indented as encoding/json would.
func (s *Stream) jsonFinding(f *policy.Finding) error {
	data, err := marshalIndent(f, "    ")
	if err != nil {
		return fmt.Errorf("encoding json: %w", err)
	}
	sep := ",\n    "
	if s.findings == 0 {
		sep = "\n    "
	}
	s.findings++
	s.bw.WriteString(sep)
	_, err = s.bw.Write(data)
	return err
}

// Close writes what only the whole scan knows (errors, the summary) and flushes.
func (s *Stream) Close(summary *Summary) error {
	var err error
	switch s.format {
	case "text":
		s.text.tail(s.errors, summary)
		err = s.text.err
	case "json":
		err = s.jsonTail(summary)
	case "sarif":
		s.all.Errors, s.all.Summary = s.errors, *summary
		err = writeSARIF(s.bw, s.all, s.opts)
	case "junit":
		s.all.Errors, s.all.Summary = s.errors, *summary
		err = writeJUnit(s.bw, s.all, s.opts)
	}
	if err != nil {
		return fmt.Errorf("rendering %s report: %w", s.format, err)
	}
	return s.bw.Flush()
}

func (s *Stream) jsonTail(summary *Summary) error {
	if s.findings > 0 {
		s.bw.WriteString("\n  ")
	}
	errs := s.errors
	if errs == nil {
		errs = []InputError{}
	}
	sum := *summary
	if sum.BySeverity == nil {
		sum.BySeverity = map[policy.Severity]int{}
	}
	e, err := marshalIndent(errs, "  ")
	if err != nil {
		return err
	}
	m, err := marshalIndent(sum, "  ")
	if err != nil {
		return err
	}
	s.bw.WriteString("],\n  \"errors\": ")
	s.bw.Write(e)
	s.bw.WriteString(",\n  \"summary\": ")
	s.bw.Write(m)
	_, err = s.bw.WriteString("\n}\n")
	return err
}

// marshalIndent encodes v as encoding/json's indenting encoder does inside a document, without
// HTML escaping: messages quote images and fields ("<none>", "a && b") and stay readable.
func marshalIndent(v any, prefix string) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := []byte(b.String())
	if len(out) == 0 {
		return nil, errors.New("empty encoding")
	}
	return out[:len(out)-1], nil // Encode adds a newline
}
