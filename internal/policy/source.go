package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file decodes policy files into generic values and remembers where in
// the source each value came from, so that ParseFile can give every error a
// line number.

// Document paths locate a value in the parsed file for line lookups. They are
// strings: "" is the root, then "\x00k<key>" for an object member and
// "\x00i<n>" for an array element.
func docKey(k string) string { return "\x00k" + k }
func docIndex(i int) string  { return "\x00i" + strconv.Itoa(i) }
func docPath(p fieldPath) string {
	var b strings.Builder
	for _, e := range p {
		if e.kind == elemIndex {
			b.WriteString(docIndex(e.index))
		} else {
			b.WriteString(docKey(e.name))
		}
	}
	return b.String()
}

// lookupLine returns the line of the deepest recorded ancestor of path (an
// error about a missing key points at its enclosing object).
func lookupLine(lines map[string]int, path string) int {
	for {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexByte(path, 0)
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
}

// renderDocPath turns a document path into text like policies[0].rules[1].
func renderDocPath(path string) string {
	var b strings.Builder
	for _, part := range strings.Split(path, "\x00")[1:] {
		switch {
		case strings.HasPrefix(part, "i"):
			b.WriteString("[" + part[1:] + "]")
		case isIdent(part[1:]):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(part[1:])
		default:
			b.WriteString("[" + strconv.Quote(part[1:]) + "]")
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// decodeJSONDocument decodes with encoding/json (numbers kept exact as
// json.Number) and records the line of every key and array element.
func decodeJSONDocument(data []byte) (any, map[string]int, []FieldError) {
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a UTF-8 byte order mark
	nl := newlineOffsets(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, []FieldError{jsonSyntaxError(err, data, nl)}
	}
	if _, err := dec.Token(); err != io.EOF {
		off := int(dec.InputOffset())
		return nil, nil, []FieldError{fileError("", lineAt(nl, off), "unexpected data after the top-level JSON value")}
	}

	w := jsonWalker{dec: json.NewDecoder(bytes.NewReader(data)), nl: nl, lines: map[string]int{}}
	w.dec.UseNumber()
	if err := w.value(""); err != nil { // cannot happen: the document decoded above
		return nil, nil, []FieldError{fileError("", 0, "invalid JSON: "+err.Error())}
	}
	var errs []FieldError
	for _, d := range w.dups {
		fe := fileError("", d.line, fmt.Sprintf("duplicate key %q in %s (which value wins is decoder-dependent)", d.key, orRoot(renderDocPath(d.parent))))
		errs = append(errs, fe)
	}
	return raw, w.lines, errs
}

// orRoot names a rendered document path for messages; a top-level list is
// the list of policies.
func orRoot(s string) string {
	switch {
	case s == "":
		return "the top-level object"
	case strings.HasPrefix(s, "["):
		return "policies" + s
	}
	return s
}

func jsonSyntaxError(err error, data []byte, nl []int) FieldError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fileError("", lineAt(nl, int(se.Offset)), "invalid JSON: "+se.Error())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fileError("", lineAt(nl, len(data)), "invalid JSON: unexpected end of input")
	}
	return fileError("", 0, "invalid JSON: "+err.Error())
}

type jsonDup struct {
	parent, key string
	line        int
}

// jsonWalker replays the token stream to learn where each value starts.
type jsonWalker struct {
	dec   *json.Decoder
	nl    []int
	lines map[string]int
	dups  []jsonDup
}

func (w *jsonWalker) here() int { return lineAt(w.nl, int(w.dec.InputOffset())-1) }

func (w *jsonWalker) value(path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if _, ok := w.lines[path]; !ok {
		w.lines[path] = w.here()
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for w.dec.More() {
			kt, err := w.dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			kp := path + docKey(k)
			if seen[k] {
				w.dups = append(w.dups, jsonDup{parent: path, key: k, line: w.here()})
			} else {
				seen[k] = true
				w.lines[kp] = w.here()
			}
			if err := w.value(kp); err != nil {
				return err
			}
		}
		_, err = w.dec.Token()
	case json.Delim('['):
		for i := 0; w.dec.More(); i++ {
			if err := w.value(path + docIndex(i)); err != nil {
				return err
			}
		}
		_, err = w.dec.Token()
	}
	return err
}

func newlineOffsets(data []byte) []int {
	var nl []int
	for i, c := range data {
		if c == '\n' {
			nl = append(nl, i)
		}
	}
	return nl
}

// lineAt converts a byte offset to a 1-based line number.
func lineAt(nl []int, off int) int {
	i, _ := slices.BinarySearch(nl, off)
	return i + 1
}

// decodeYAMLDocument decodes a single YAML document and records the line of
// every key and sequence item. Aliases are resolved by the YAML library (which
// bounds their expansion) and not followed for line numbers.
func decodeYAMLDocument(data []byte) (any, map[string]int, []FieldError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, []FieldError{yamlError(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, nil, []FieldError{fileError("", next.Line, "multiple YAML documents; put all policies in one list")}
	case !errors.Is(err, io.EOF):
		return nil, nil, []FieldError{yamlError(err)}
	}
	var raw any
	if err := doc.Decode(&raw); err != nil {
		return nil, nil, []FieldError{yamlError(err)}
	}
	lines := map[string]int{}
	yamlLines(&doc, "", lines, 0)
	return raw, lines, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// yamlError turns a YAML library error into a file-level FieldError with its line.
func yamlError(err error) FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.Replace(msg, m[0], "", 1)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	return fileError("", line, "invalid YAML: "+msg)
}

func yamlLines(n *yaml.Node, path string, lines map[string]int, depth int) {
	if n == nil || depth > 10_000 {
		return
	}
	if _, ok := lines[path]; !ok {
		lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			yamlLines(c, path, lines, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := path + docKey(k.Value)
			if _, ok := lines[kp]; !ok {
				lines[kp] = k.Line
			}
			yamlLines(v, kp, lines, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			yamlLines(c, path+docIndex(i), lines, depth+1)
		}
	}
}
