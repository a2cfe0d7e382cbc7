package main

import (
	"strconv"
	"strings"
)

// kv is one key of an ordered mapping.
type kv struct {
	K string
	V any
}

// obj is an ordered YAML mapping, so the emitted documents read like
// kubectl or Helm output (apiVersion, kind, metadata, spec) rather than in
// alphabetical order.
type obj []kv

// set appends a key; it returns the mapping to allow chaining.
func (o *obj) set(k string, v any) *obj {
	*o = append(*o, kv{k, v})
	return o
}

// list is a YAML sequence.
type list []any

// writeYAML appends v, a mapping, as block-style YAML at the given indent.
// Only the value types the generator uses are supported: obj, list, string,
// int, bool.
func writeYAML(b *strings.Builder, o obj, indent int) {
	for _, e := range o {
		b.WriteString(strings.Repeat(" ", indent))
		writeEntry(b, e, indent)
	}
}

// writeEntry writes "key: value" whose first line's indentation has already
// been written.
func writeEntry(b *strings.Builder, e kv, indent int) {
	b.WriteString(scalar(e.K))
	b.WriteByte(':')
	switch v := e.V.(type) {
	case obj:
		if len(v) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteByte('\n')
		writeYAML(b, v, indent+2)
	case list:
		if len(v) == 0 {
			b.WriteString(" []\n")
			return
		}
		b.WriteByte('\n')
		writeList(b, v, indent+2)
	default:
		b.WriteByte(' ')
		b.WriteString(scalarValue(v))
		b.WriteByte('\n')
	}
}

func writeList(b *strings.Builder, l list, indent int) {
	pad := strings.Repeat(" ", indent)
	for _, item := range l {
		b.WriteString(pad)
		b.WriteString("- ")
		switch v := item.(type) {
		case obj:
			if len(v) == 0 {
				b.WriteString("{}\n")
				continue
			}
			writeEntry(b, v[0], indent+2)
			writeYAML(b, v[1:], indent+2)
		case list:
			// Nested sequences do not occur in workload manifests we emit;
			// fall back to flow style.
			parts := make([]string, len(v))
			for i, s := range v {
				parts[i] = scalarValue(s)
			}
			b.WriteString("[" + strings.Join(parts, ", ") + "]\n")
		default:
			b.WriteString(scalarValue(v))
			b.WriteByte('\n')
		}
	}
}

func scalarValue(v any) string {
	switch v := v.(type) {
	case string:
		return scalar(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	panic("corpusgen: unsupported YAML value type")
}

// scalar renders a string plain when YAML would read it back as the same
// string, and double-quoted otherwise.
func scalar(s string) string {
	if s == "" {
		return `""`
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseInt(s, 0, 64); err == nil { // 0x1F, 0o17, 1_000
		return strconv.Quote(s)
	}
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") ||
		strings.HasSuffix(s, " ") || strings.HasPrefix(s, " ") {
		return strconv.Quote(s)
	}
	switch s[0] {
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return strconv.Quote(s)
		}
	}
	return s
}
