package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

// appendJSONer is a body that encodes itself faster than reflection.
type appendJSONer interface {
	AppendJSON(b []byte) ([]byte, error)
}

// writeAppended writes v as writeJSON would, through its AppendJSON.
func writeAppended(w http.ResponseWriter, status int, v appendJSONer, sizeHint int) {
	bp := bodyBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBody {
			bodyBuffers.Put(bp)
		}
	}()
	buf := *bp
	if cap(buf) < sizeHint+1 {
		buf = make([]byte, 0, sizeHint+1)
	}
	b, err := v.AppendJSON(buf[:0])
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	b = append(b, '\n')
	*bp = b[:0]
	writeBody(w, status, b)
}

// writeRequest answers with one request in its wire form.
func writeRequest(w http.ResponseWriter, status int, req *approval.Request) {
	out := wire.ToRequest(req, time.Now())
	writeAppended(w, status, &out, 1024)
}

// bodyBuffers keeps the buffers responses are encoded into: a list page is
// ~35 KB, and a new zeroed buffer for each was a quarter of the bytes the
// list endpoint allocated. Write copies the body out before returning, so
// a buffer is free again once writeBody is done.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBody is the largest buffer kept: a rare huge page is left to
// the collector instead of pinning its memory.
const maxPooledBody = 256 << 10

// writeJSON encodes v as the response. Encoding happens into a buffer
// first so a failure becomes a clean 500 instead of half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error"}` + "\n")
	}
	writeBody(w, status, buf.Bytes())
}

// writeBody sends an encoded JSON body with the API's headers.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The whole body is known: a length instead of chunked encoding saves
	// the framing and the closing chunk's write.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// MaxBodyBytes is the default limit of a request body.
const MaxBodyBytes = 1 << 20

// readBody checks the content type and reads the body, at most limit
// bytes. An empty body is CodeInvalid ("Request body required").
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, approval.Errorf(approval.CodeUnsupportedMedia, "Content-Type must be application/json")
		}
	} else if r.ContentLength != 0 {
		return nil, approval.Errorf(approval.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, approval.Errorf(approval.CodeTooLarge, "request body is larger than %d bytes", limit)
		}
		return nil, approval.Wrap(approval.CodeInvalid, err, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, approval.Errorf(approval.CodeInvalid, "Request body required")
	}
	return body, nil
}

// decodeObject reads a JSON object body into its raw fields, refusing
// fields not in allowed, so that a typo ("param") is an error and not a
// silently ignored field.
func decodeObject(w http.ResponseWriter, r *http.Request, limit int64, allowed ...string) (map[string]json.RawMessage, error) {
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return parseObject(body, allowed...)
}

func parseObject(body []byte, allowed ...string) (map[string]json.RawMessage, error) {
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, approval.Errorf(approval.CodeInvalid, "request body must be a JSON object")
	}
	if allowed != nil {
		var unknown []string
		for k := range fields {
			if !slices.Contains(allowed, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, approval.Errorf(approval.CodeInvalid, "unknown field %q (allowed: %s)", unknown[0], strings.Join(allowed, ", "))
		}
	}
	return fields, nil
}

// MaxJSONDepth bounds nesting in request bodies.
const MaxJSONDepth = 32

// MaxJSONString bounds every string in a request body, keys included, in
// bytes after decoding.
const MaxJSONString = 64 << 10

// checkJSON validates syntax, a single value, nesting depth and string
// lengths, with a message that says where the problem is.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF && depth == 0 {
			return nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return approval.Errorf(approval.CodeInvalid, "malformed JSON: unexpected end of input")
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return approval.Errorf(approval.CodeInvalid, "malformed JSON at byte %d: %s", se.Offset, se.Error())
			}
			return approval.Errorf(approval.CodeInvalid, "malformed JSON: unexpected end or invalid value")
		}
		if str, ok := tok.(string); ok && len(str) > MaxJSONString {
			return approval.Errorf(approval.CodeInvalid, "JSON string near byte %d is longer than %d bytes", dec.InputOffset(), MaxJSONString)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > MaxJSONDepth {
				return approval.Errorf(approval.CodeInvalid, "JSON nesting deeper than %d levels", MaxJSONDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			if _, err := dec.Token(); err != io.EOF {
				return approval.Errorf(approval.CodeInvalid, "request body must hold a single JSON value")
			}
			return nil
		}
	}
}

// isNull reports whether a raw field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// stringField decodes an optional string field.
func stringField(fields map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, approval.Errorf(approval.CodeInvalid, "%s must be a string", name)
	}
	return s, true, nil
}

// objectField decodes an optional JSON object field, returning its decoded
// form and its raw bytes.
func objectField(fields map[string]json.RawMessage, name string) (map[string]any, json.RawMessage, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil, nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, nil, approval.Errorf(approval.CodeInvalid, "%s must be a JSON object", name)
	}
	return m, raw, nil
}

// decodeField decodes an optional field of any type into dst.
func decodeField(fields map[string]json.RawMessage, name string, dst any) (bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return true, approval.Errorf(approval.CodeInvalid, "%s: %s", name, describeJSONError(err))
	}
	return true, nil
}

// describeJSONError rewords encoding/json errors without Go type names.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := ""
		if te.Field != "" {
			where = " at " + te.Field
		}
		return fmt.Sprintf("expected %s%s, got %s", jsonKind(te.Type.Kind().String()), where, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "malformed JSON"
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "int32", "float64", "float32", "uint", "uint64":
		return "a number"
	}
	return "another type"
}
