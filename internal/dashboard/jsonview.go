package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// jsonNode is one value of an agent's params or context, in the order
// the agent sent it, for the collapsible viewer. Templates print every
// field escaped; nothing here is trusted markup.
type jsonNode struct {
	Key      string // the member name or "[i]"; "" at the root
	Kind     string // object, array, string, number, bool, null, cut
	Value    string // scalars: the text to show (strings unquoted)
	Children []*jsonNode
	Open     bool // containers: expanded at first
	Long     bool // strings: long enough to fold
}

// Limits of the viewer: deeper or larger documents are cut with a note,
// so one agent's huge payload cannot make a page slow.
const (
	jsonMaxDepth    = 24
	jsonMaxNodes    = 2000
	jsonLongString  = 240
	jsonOpenBelow   = 12 // containers with fewer children start expanded
	jsonOpenToDepth = 2
)

var errJSONCut = errors.New("cut")

// parseTree reads raw into a tree that keeps member order.
func parseTree(raw []byte) (*jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	budget := jsonMaxNodes
	root, err := readNode(dec, "", 0, &budget)
	if err != nil && !errors.Is(err, errJSONCut) {
		return nil, err
	}
	return root, nil
}

func readNode(dec *json.Decoder, key string, depth int, budget *int) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	*budget--
	n := &jsonNode{Key: key}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			n.Kind = "object"
		} else {
			n.Kind = "array"
		}
		if depth >= jsonMaxDepth || *budget <= 0 {
			n.Children = append(n.Children, &jsonNode{Kind: "cut", Value: "… nested too deep or too large to show"})
			return n, errJSONCut
		}
		for i := 0; dec.More(); i++ {
			childKey := "[" + strconv.Itoa(i) + "]"
			if n.Kind == "object" {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				childKey, _ = kt.(string)
			}
			if *budget <= 0 {
				n.Children = append(n.Children, &jsonNode{Kind: "cut", Value: "… the rest is too large to show"})
				return n, errJSONCut
			}
			c, err := readNode(dec, childKey, depth+1, budget)
			if c != nil {
				n.Children = append(n.Children, c)
			}
			if err != nil {
				return n, err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		n.Open = depth < jsonOpenToDepth && len(n.Children) < jsonOpenBelow
	case string:
		n.Kind, n.Value = "string", t
		n.Long = len(t) > jsonLongString
	case json.Number:
		n.Kind, n.Value = "number", t.String()
	case bool:
		n.Kind, n.Value = "bool", strconv.FormatBool(t)
	case nil:
		n.Kind, n.Value = "null", "null"
	}
	return n, nil
}

// Count is the size shown next to a folded container.
func (n *jsonNode) Count() string {
	c := len(n.Children)
	if n.Kind == "array" {
		if c == 1 {
			return "1 item"
		}
		return strconv.Itoa(c) + " items"
	}
	if c == 1 {
		return "1 key"
	}
	return strconv.Itoa(c) + " keys"
}

// Head is the first part of a long string, shown folded.
func (n *jsonNode) Head() string { return truncateRunes(n.Value, 160) }

// kv is one line of a request card's parameter summary.
type kv struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Summary limits: a card shows a few parameters, each on one line.
const (
	summaryKeys  = 4
	summaryValue = 90
)

// summarize returns the first top-level members of a JSON object as short
// text, and how many were left out.
func summarize(raw []byte) ([]kv, int) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, 0
	}
	var out []kv
	more := 0
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return out, more
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out, more
		}
		if len(out) == summaryKeys {
			more++
			continue
		}
		k, _ := kt.(string)
		out = append(out, kv{Key: k, Value: truncateRunes(shortValue(v), summaryValue)})
	}
	return out, more
}

// shortValue renders one JSON value on one line: strings unquoted, small
// containers compact, large ones as their size.
func shortValue(v json.RawMessage) string {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	if buf.Len() <= summaryValue {
		// encoding/json escapes <, > and & inside strings; show them as
		// the agent wrote them (the page escapes them for HTML).
		return htmlUnescaper.Replace(buf.String())
	}
	dec := json.NewDecoder(&buf)
	tok, _ := dec.Token()
	n := 0
	for dec.More() {
		var skip json.RawMessage
		if tok == json.Delim('{') {
			if _, err := dec.Token(); err != nil {
				break
			}
		}
		if err := dec.Decode(&skip); err != nil {
			break
		}
		n++
	}
	if tok == json.Delim('[') {
		return "[" + strconv.Itoa(n) + " items]"
	}
	return "{" + strconv.Itoa(n) + " keys}"
}

var htmlUnescaper = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

// jsonSyntaxMessage explains where a JSON document is broken, by line and
// column.
func jsonSyntaxMessage(doc []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(doc, se.Offset)
		return "JSON syntax error at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + ": " + se.Error()
	case errors.As(err, &te):
		line, col := lineCol(doc, te.Offset)
		field := te.Field
		if field == "" {
			field = "value"
		}
		return "Wrong type for " + field + " at line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + ": expected " + te.Type.String()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "The JSON document is empty or ends too early."
	}
	return "Invalid JSON: " + err.Error()
}

func lineCol(doc []byte, off int64) (int, int) {
	if off > int64(len(doc)) {
		off = int64(len(doc))
	}
	line, col := 1, 1
	for _, c := range doc[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
