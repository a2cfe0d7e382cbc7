package workload

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// yamlJSONCases are tricky documents; fast says whether the fast path must take them (false:
// it must fall back). Every output is compared with sigs.k8s.io/yaml's.
var yamlJSONCases = []struct {
	name string
	in   string
	fast bool
}{
	{"empty", "", true},
	{"blank lines", "\n\n   \n", true},
	{"only comments", "# a\n  # b\n", true},
	{"simple mapping", "apiVersion: v1\nkind: Pod\n", true},
	{"keys sorted", "spec: 1\nkind: Pod\napiVersion: v1\nZ: 1\n_a: 2\naa: 3\n", true},
	{"nested", "metadata:\n  name: x\n  labels:\n    app: web\n    tier: db\nspec:\n  replicas: 3\n", true},
	{"sequence", "- a\n- b\n- 3\n", true},
	{"indentless sequence", "args:\n- --port=80\n- -v\nnext: 1\n", true},
	{"indented sequence", "args:\n  - a\n  - b\nnext: 1\n", true},
	{"compact mappings", "containers:\n  - name: c\n    image: nginx:1.25\n    ports:\n      - containerPort: 80\n        protocol: TCP\n  - name: d\n", true},
	{"compact nested sequences", "- - a\n  - b\n- - c\n", true},
	{"compact mapping in indentless sequence", "a:\n- b: 1\n  c:\n  - x\n  d: 2\ne: 3\n", true},
	{"wide dash", "-   a: 1\n    b: 2\n-   c\n", true},
	{"empty values", "a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: nUll\n", true},
	{"empty sequence entries", "-\n- \n-  # c\n- x\n-\n", true},
	{"empty value then nested", "a:\n  # comment\n\n  b: 1\n", true},
	{"nested scalar on its own line", "a:\n  hello\nb: 1\n", true},
	{"sequence item on next line", "-\n  a: 1\n  b: 2\n-\n  x\n", true},
	{"booleans", "a: true\nb: True\nc: TRUE\nd: yes\ne: Yes\nf: YES\ng: on\nh: On\ni: ON\nj: y\nk: Y\nl: tRUE\nm: yEs\n", true},
	{"false booleans", "a: false\nb: False\nc: FALSE\nd: no\ne: No\nf: NO\ng: off\nh: Off\ni: OFF\nj: n\nk: N\nl: oFF\n", true},
	{"ints", "a: 0\nb: -0\nc: +12\nd: 0x1F\ne: 0o17\nf: 017\ng: 1_000\nh: 0b101\ni: -0b101\nj: 08\nk: -17\nl: 007\nm: 0X1f\n", true},
	{"big ints", "a: 9223372036854775807\nb: 9223372036854775808\nc: 18446744073709551615\nd: 18446744073709551616\ne: -9223372036854775809\nf: 123456789012345678\ng: 1234567890123456789\n", true},
	{"floats", "a: 1.0\nb: 1e3\nc: 1.5e-7\nd: .5\ne: -.5\nf: +.5\ng: 1.\nh: 0.1_0\ni: 1e21\nj: 1e20\nk: 1E+2\nl: 1e400\nm: 6.02e23\nn: -0.0\no: 0.000001\np: 0.0000001\n", true},
	{"not numbers", "a: 100m\nb: 1Gi\nc: 1.2.3\nd: 0x\ne: --port=80\nf: 1e\ng: 12:30\nh: 0b2\ni: +\nj: .\nk: ._5\nl: 1_\nm: 0xG\n", true},
	{"infinity", "a: .inf\n", false},
	{"negative infinity", "a: -.Inf\n", false},
	{"nan", "a: .NaN\n", false},
	{"timestamps", "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-12-14 21:59:43.10\nd: 1234-5\n", true},
	{"quoted", "a: \"x\"\nb: 'y'\nc: \"\"\nd: ''\ne: 'it''s'\nf: \"say \\\"hi\\\"\"\ng: '\"'\nh: \"'\"\n", true},
	{"quoted not resolved", "a: \"true\"\nb: '1'\nc: \"null\"\nd: '~'\n", true},
	{"escapes", `a: "\0\a\b\t\	\n\v\f\r\e\ \"\\\N\_\L\P\x41\u00e9\U0001F600\x85"` + "\n", true},
	{"unknown escape", `a: "\/"` + "\n", false},
	{"surrogate escape", `a: "\ud800"` + "\n", false},
	{"short hex escape", `a: "\x4"` + "\n", false},
	{"tabs in quotes", "a: \"x\ty\"\nb: 'p\tq'\n", true},
	{"html", "a: <b>&amp;</b>\n\"<k>\": '&'\n", true},
	{"unicode", "name: café\nemoji: \"😀\"\nkey✓: ✓\nls: \"\\u2028\\u2029\"\n", true},
	{"control escape", "a: \"\\x01\\x1f\\x7f\"\n", true},
	{"comments", "# head\na: 1 # trailing\nb: x#y\nc: 'q' # c\n# middle\nd:   # nothing\n  - e # f\n", true},
	{"colons in values", "image: nginx:1.25\nurl: http://x/y?a=b\ntime: 12:30:00\n", true},
	{"key with spaces", "a b: 1\nc d : 2\n", true},
	{"quoted keys", "\"a b\": 1\n'c': 2\n\"\\t\": 3\n\"x\" : 4\n", true},
	{"int and bool keys", "1: a\n0x10: b\ntrue: c\nno: d\n", true},
	{"null key", "~: a\n", false},
	{"float key", "1.5: a\n", false},
	{"uint key", "18446744073709551615: a\n", false},
	{"merge key", "<<: {a: 1}\n", false},
	{"merge value", "a: <<\n", true},
	{"duplicate keys", "a: 1\na: 2\n", false},
	{"anchor", "a: &x 1\nb: *x\n", false},
	{"tag", "a: !!str 1\n", false},
	{"complex key", "? a\n: b\n", false},
	{"tab indentation", "a:\n\tb: 1\n", false},
	{"multi-line plain", "a: b\n  c\n", false},
	{"multi-line quoted", "a: \"b\n  c\"\n", false},
	{"multi-line flow", "a: [b,\n  c]\n", false},
	{"directive", "%YAML 1.1\n---\na: 1\n", false},
	{"document end", "a: 1\n...\n", false},
	{"bom", "\ufeffa: 1\n", false},
	{"crlf", "a: 1\r\nb: 2\r\n", false},
	{"nel", "a: b\u0085c\n", false},
	{"invalid utf-8", "a: \xff\n", false},
	{"control character", "a: \x01\n", false},
	{"mapping value error", "a: b: c\n", false},
	{"sequence in value error", "a: - b\n", false},
	{"bad indentation", "a:\n    b: 1\n  c: 2\n", false},
	{"over-indented sibling", "a: 1\n b: 2\n", false},
	{"top-level scalar", "hello world\n", true},
	{"top-level number", "42", true},
	{"top-level quoted", "'x'", true},
	{"no final newline", "a: 1\nb: [x, y]", true},
	{"flow", "a: []\nb: {}\nc: [1, two, \"3\", 'f', true, ~]\nd: {x: 1, \"y\": [a, {b: c}], 'z': {}}\ne: [ a b , c ]\nf: {k: v}   # c\n", true},
	{"flow resolution", "a: {yes: no, 1: 0x10, 02: .5}\n", true},
	{"flow key without value", "a: {b:1}\n", false},
	{"flow plain with colon", "a: {image: registry.example.com/c:1, u: http://x:80/y}\nb: [a:b, c:, \"d:e\"]\n", true},
	{"flow quoted pair in sequence", "a: ['d':e]\n", false},
	{"flow key colon", "a: {b:c: d}\n", true},
	{"flow trailing comma", "a: [b, ]\n", false},
	{"flow missing value", "a: {b, c}\n", false},
	{"flow pair in sequence", "a: [b: c]\n", false},
	{"flow dash", "a: [-1, -x, -]\n", true},
	{"flow comment", "a: [b #c\n]\n", false},
	{"flow top level", "{a: 1, b: [2]}\n", true},
	{"flow then junk", "a: [b] c\n", false},
	{"literal", "a: |\n  line 1\n  line 2\nb: 1\n", true},
	{"literal strip", "a: |-\n  x\n\n\nb: 1\n", true},
	{"literal keep", "a: |+\n  x\n\n\nb: 1\n", true},
	{"literal keep at end", "a: |+\n  x\n\n", true},
	{"literal no final newline", "a: |\n  x", true},
	{"literal leading blanks", "a: |\n\n\n  x\n   y\n  z\n", true},
	{"literal more-indented leading blank", "a: |\n     \n  x\n", false},
	{"literal spaces-only lines", "a: |\n  x\n      \n  y\n", true},
	{"literal with comment-like lines", "a: |\n  # not a comment\n  x # y\n# a comment\nb: 1\n", true},
	{"literal tabs", "a: |\n  x\ty\n  \tz\n", true},
	{"literal header comment", "a: | # c\n  x\nb: |#c\n  y\n", true},
	{"literal header junk", "a: | x\n  y\n", false},
	{"literal indentation indicator", "a: |2\n   x\n", false},
	{"literal in sequence", "- |\n  x\n- |-\n   y\n-  >\n  z\n", true},
	{"literal header at end", "a: |", true},
	{"literal empty", "a: |\nb: >-\nc: |+\n\n", true},
	{"folded", "a: >\n  one\n  two\n\n  three\n    indented\n  four\n\n\n  five\nb: >-\n  x\n  y\n", true},
	{"folded keep", "a: >+\n  x\n  y\n\n", true},
	{"literal tab indentation", "a: |\n\tx\n", false},
	{"literal less indented end", "a: |\n    x\n  y\n", false},
	{"long string", "a: " + strings.Repeat("abcdefghij", 500) + "\n", true},
	{"long key", strings.Repeat("k", 1100) + ": v\n", false},
	{"long quoted value", "a: \"" + strings.Repeat("x\\n", 600) + "\"\n", true},
	{"deep nesting", strings.Repeat("- ", 150) + "x\n", false},
	{"moderate nesting", strings.Repeat("- ", 50) + "x\n", true},
	{"deep flow", strings.Repeat("[", 150) + strings.Repeat("]", 150) + "\n", false},
	{"indented document", "  a: 1\n  b:\n    - x\n", true},
	{"indented document then outdent", "  a: 1\nb: 2\n", false},
	{"special chars in plain", "a: -x\nb: ?x\nc: :x\nd: a,b]c{d}\ne: x'y\"z\nf: 50%\ng: a!b&c*d|e>f\n", true},
	{"indicators starting plain", "a: @x\n", false},
	{"backtick", "a: `x`\n", false},
	{"percent start", "a: %x\n", false},
	{"comma start", "a: ,x\n", false},
	{"document separator inside", "a: 1\n--- \nb: 2\n", false},
	{"quoted then junk", "a: 'b' c\n", false},
	{"quoted then comment without space", "a: 'b'#c\n", false},
	{"key without space after colon", "a:b\n", true},
	{"key colon tab", "a:\tb\n", false},
	{"trailing spaces", "a: b   \nc:    \n", true},
	{"sequence of mappings with nulls", "- a:\n- b:\n  c:\n", true},
	{"nested indentless under compact", "- a:\n  - x\n- b\n", true},
	{"configmap data", "data:\n  app.yaml: \"server:\\n  port: 8080\\n\"\n  script.sh: |\n    #!/bin/sh\n    echo \"hi\" && exit 0\n", true},
}

// TestYAMLToJSONKeyCollision: keys that differ in YAML but not as JSON names ("1" and 1)
// make sigs.k8s.io/yaml's output depend on map order; the fast path must leave them alone.
func TestYAMLToJSONKeyCollision(t *testing.T) {
	for _, in := range []string{"1: a\n\"1\": b\n", "true: a\n'true': b\n", "a: {0x1: x, \"1\": y}\n"} {
		if js, fast := fastYAMLToJSON([]byte(in)); fast {
			t.Errorf("fast path took %q: %s", in, js)
		}
	}
}

func TestYAMLToJSONCases(t *testing.T) {
	for _, tc := range yamlJSONCases {
		t.Run(tc.name, func(t *testing.T) {
			checkYAMLToJSON(t, []byte(tc.in))
			if _, fast := fastYAMLToJSON([]byte(tc.in)); fast != tc.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// checkYAMLToJSON compares yamlToJSON and the fast path with sigs.k8s.io/yaml on one
// document and reports whether the fast path took it.
func checkYAMLToJSON(t *testing.T, in []byte) bool {
	t.Helper()
	want, wantErr := yaml.YAMLToJSON(in)
	got, fast := fastYAMLToJSON(in)
	if fast {
		if wantErr != nil {
			t.Fatalf("fast path accepted what sigs.k8s.io/yaml rejects (%v):\n%q\ngot %s", wantErr, in, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("fast path differs on\n%q\n got %s\nwant %s", in, got, want)
		}
	}
	got, err := yamlToJSON(in)
	if (err != nil) != (wantErr != nil) || err != nil && err.Error() != wantErr.Error() || !bytes.Equal(got, want) {
		t.Fatalf("yamlToJSON(%q) = %s, %v; want %s, %v", in, got, err, want, wantErr)
	}
	return fast
}

// corpusFiles lists the benchmark corpus (make bench-corpus), if it is there.
func corpusFiles(tb testing.TB) []string {
	var files []string
	root := filepath.Join("..", "..", "bench", "_out", "corpus")
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		tb.Skip("no corpus in bench/_out/corpus")
	}
	return files
}

// yamlDocs splits every file into the documents the decoder would convert.
func yamlDocs(tb testing.TB, files []string) [][]byte {
	var docs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range splitYAML(data) {
			docs = append(docs, d.data)
		}
	}
	return docs
}

func fixtureFiles(tb testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("..", "..", "test", "fixtures", "*.yaml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no fixtures: %v", err)
	}
	return files
}

func TestYAMLToJSONFixtures(t *testing.T) {
	docs := yamlDocs(t, fixtureFiles(t))
	fast := 0
	for _, d := range docs {
		if checkYAMLToJSON(t, d) {
			fast++
		}
	}
	t.Logf("fast path: %d of %d fixture documents", fast, len(docs))
}

func TestYAMLToJSONCorpus(t *testing.T) {
	docs := yamlDocs(t, corpusFiles(t))
	fast := 0
	for _, d := range docs {
		if checkYAMLToJSON(t, d) {
			fast++
		}
	}
	t.Logf("fast path: %d of %d corpus documents (%.2f%%)", fast, len(docs), 100*float64(fast)/float64(len(docs)))
	if fast < len(docs)*99/100 {
		t.Errorf("fast path took only %d of %d corpus documents", fast, len(docs))
	}
}

// TestYAMLStyleFloat checks the hand-written matcher against yaml v2's regular expression.
func TestYAMLStyleFloat(t *testing.T) {
	re := regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
	alphabet := []string{"", "0", "1", "9", ".", "-", "+", "e", "E", "x", "_"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		if got, want := yjYAMLStyleFloat(prefix), re.MatchString(prefix); got != want {
			t.Errorf("yjYAMLStyleFloat(%q) = %v, want %v", prefix, got, want)
		}
		if n == 0 {
			return
		}
		for _, a := range alphabet[1:] {
			gen(prefix+a, n-1)
		}
	}
	gen("", 5)
}

// BenchmarkYAMLToJSON compares sigs.k8s.io/yaml with the fast path on the benchmark corpus
// (when present) and on the test fixtures.
func BenchmarkYAMLToJSON(b *testing.B) {
	b.Run("corpus", func(b *testing.B) {
		benchmarkYAMLToJSON(b, yamlDocs(b, corpusFiles(b)))
	})
	b.Run("fixtures", func(b *testing.B) {
		benchmarkYAMLToJSON(b, yamlDocs(b, fixtureFiles(b)))
	})
}

func benchmarkYAMLToJSON(b *testing.B, docs [][]byte) {
	size := 0
	for _, d := range docs {
		size += len(d)
	}
	b.Run("sigsyaml", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, d := range docs {
				_, _ = yaml.YAMLToJSON(d)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		took := 0
		for _, d := range docs {
			if _, ok := fastYAMLToJSON(d); ok {
				took++
			}
		}
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, d := range docs {
				_, _ = yamlToJSON(d)
			}
		}
		b.ReportMetric(100*float64(took)/float64(len(docs)), "%fast-path")
	})
}
