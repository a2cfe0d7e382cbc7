package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// DecodeError is a document that could not be decoded, with where it is.
type DecodeError struct {
	File    string
	Line    int
	Message string
}

func (e *DecodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return e.File + ": " + e.Message
}

// maxListDepth bounds how deeply Lists may nest, so a hostile input cannot recurse forever.
const maxListDepth = 8

// Decode reads every object in data: multi-document YAML (comments and empty documents
// allowed), a JSON object or a stream of them, and kind List (or any *List with items),
// expanded. A broken document becomes a DecodeError naming its file and line; the other
// documents are still returned.
func Decode(file string, data []byte) ([]*Object, []*DecodeError) {
	d := decoder{file: file}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		d.decodeJSONStream(data)
	} else {
		for _, doc := range splitYAML(data) {
			d.decodeYAML(doc)
		}
	}
	return d.objects, d.errs
}

type decoder struct {
	file    string
	objects []*Object
	errs    []*DecodeError
}

func (d *decoder) fail(line int, format string, args ...any) {
	d.errs = append(d.errs, &DecodeError{File: d.file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// yamlDoc is one YAML document and the line (1-based) of its first content line.
type yamlDoc struct {
	data  []byte
	line  int // first content line
	start int // first line of data
}

// splitYAML cuts a stream at its "---" separator lines and skips documents that hold only
// comments and blank lines.
func splitYAML(data []byte) []yamlDoc {
	var docs []yamlDoc
	var cur bytes.Buffer
	start, first := 1, 0 // start: first line of the current document
	flush := func() {
		if first > 0 {
			docs = append(docs, yamlDoc{data: append([]byte(nil), cur.Bytes()...), line: first, start: start})
		}
		cur.Reset()
		first = 0
	}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			line, data = data, nil
		}
		if isSeparator(line) {
			flush()
			start = lineNo + 1
			continue
		}
		if first == 0 {
			if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' || bytes.Equal(t, []byte("...")) {
				// Keep blank and comment lines so YAML's own line numbers stay right.
				cur.Write(line)
				continue
			}
			first = lineNo
		}
		cur.Write(line)
	}
	flush()
	return docs
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(line[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// yamlLine finds "line N" in a YAML parser error.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlLinePrefix is the parser's "yaml: line N: " prefix, relative to the document.
var yamlLinePrefix = regexp.MustCompile(`^yaml: line \d+: `)

func (d *decoder) decodeYAML(doc yamlDoc) {
	js, err := yamlToJSON(doc.data)
	if err != nil {
		line, msg := doc.line, err.Error()
		// The parser counts lines from the start of the document's text.
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			if n, convErr := strconv.Atoi(m[1]); convErr == nil {
				line = doc.start + n - 1
			}
		}
		msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
		msg = yamlLinePrefix.ReplaceAllString(msg, "") // the line is reported on its own, counted from the file's start
		d.fail(line, "invalid YAML: %s", msg)
		return
	}
	d.decodeJSON(js, doc.line, 0)
}

func (d *decoder) decodeJSONStream(data []byte) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		offset := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return
		}
		line := lineAt(data, int(offset))
		if err != nil {
			d.fail(lineAt(data, int(dec.InputOffset())), "invalid JSON: %v", err)
			return
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				d.fail(line, "invalid JSON array: %v", err)
				continue
			}
			for _, it := range items {
				d.decodeJSON(it, line, 1)
			}
			continue
		}
		d.decodeJSON(raw, line+leadingBlankLines(data[offset:]), 0)
	}
}

func lineAt(data []byte, offset int) int {
	if offset > len(data) {
		offset = len(data)
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

func leadingBlankLines(data []byte) int {
	t := bytes.TrimLeft(data, " \t\r\n")
	return bytes.Count(data[:len(data)-len(t)], []byte("\n"))
}

// header is the part of every manifest that routes it.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name         string            `json:"name"`
		GenerateName string            `json:"generateName"`
		Namespace    string            `json:"namespace"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

func (d *decoder) decodeJSON(js []byte, line, depth int) {
	if t := bytes.TrimSpace(js); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return
	}
	if t := bytes.TrimSpace(js); t[0] != '{' {
		d.fail(line, "a manifest must be an object with apiVersion and kind, found %s", describeJSON(t))
		return
	}
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		d.fail(line, "invalid manifest: %v", err)
		return
	}
	if h.Kind == "" || h.APIVersion == "" {
		d.fail(line, "manifest has no %s", missing(h))
		return
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		if depth >= maxListDepth {
			d.fail(line, "%s nested more than %d deep", h.Kind, maxListDepth)
			return
		}
		for _, it := range h.Items {
			d.decodeJSON(it, line, depth+1)
		}
		return
	}
	name := h.Metadata.Name
	if name == "" {
		name = h.Metadata.GenerateName
	}
	obj := &Object{
		APIVersion:  h.APIVersion,
		Kind:        h.Kind,
		Namespace:   h.Metadata.Namespace,
		Name:        name,
		Labels:      h.Metadata.Labels,
		Annotations: h.Metadata.Annotations,
		File:        d.file,
		Line:        line,
		JSON:        js,
	}
	tmpl, err := decodeTemplate(obj.Group(), obj.Kind, js)
	if err != nil {
		d.fail(line, "%s: %v", obj.Ref(), err)
		return
	}
	obj.Template = tmpl
	d.objects = append(d.objects, obj)
}

func missing(h header) string {
	switch {
	case h.Kind == "" && h.APIVersion == "":
		return "apiVersion and kind"
	case h.Kind == "":
		return "kind"
	default:
		return "apiVersion"
	}
}

func describeJSON(t []byte) string {
	switch t[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	default:
		return "a scalar"
	}
}

// DecodeObject decodes one JSON object, as an admission request carries it. A List is an
// error here: admission sees one object at a time.
func DecodeObject(source string, js []byte) (*Object, error) {
	d := decoder{file: source}
	d.decodeJSON(js, 0, maxListDepth)
	if len(d.errs) > 0 {
		return nil, d.errs[0]
	}
	if len(d.objects) != 1 {
		return nil, &DecodeError{File: source, Message: "expected exactly one object"}
	}
	return d.objects[0], nil
}
