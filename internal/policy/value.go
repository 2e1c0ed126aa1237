package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// This file holds the value model shared by matchers: JSON numbers that compare
// exactly, strict (no coercion) deep equality, and read-only views over the Go
// shapes a request can arrive in.
//
// Two kinds of values meet here:
//   - operands, written in a policy. They are canonicalised once at Compile
//     (canon) into nil, bool, string, num, []any or map[string]any, so the hot
//     path never re-inspects them;
//   - request values, as the caller hands them over. They are read as they are,
//     without copying: encoding/json shapes first (fast type switches), then
//     json.Number and every Go integer and float kind, then any slice, array or
//     string-keyed map through reflection (slow but never wrong).

// maxValueDepth bounds how deeply operand values and match objects may nest.
// It keeps compilation and equality recursion small for hostile input.
const maxValueDepth = 32

// num is a JSON number held so that comparisons are exact: integers that fit
// an int64 are kept as integers (so 2^53+1 ≠ 2^53), everything else as float64.
// 1 and 1.0 are the same num.
type num struct {
	i     int64
	f     float64
	isInt bool
}

const (
	minInt64Float = -9223372036854775808.0 // -2^63, exactly representable
	maxInt64Float = 9223372036854775808.0  // 2^63, exactly representable
)

func numFromFloat(f float64) num {
	if f == math.Trunc(f) && f >= minInt64Float && f < maxInt64Float {
		return num{i: int64(f), f: f, isInt: true}
	}
	return num{f: f}
}

func numFromInt(i int64) num { return num{i: i, f: float64(i), isInt: true} }

func numFromUint(u uint64) num {
	if u <= math.MaxInt64 {
		return numFromInt(int64(u))
	}
	return num{f: float64(u)}
}

// numFromString parses a JSON number literal (json.Number). ok is false for
// text that is not a number at all; out-of-range values become ±Inf.
func numFromString(s string) (num, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return numFromInt(i), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return num{}, false
	}
	return numFromFloat(f), true
}

func (n num) isNaN() bool { return !n.isInt && math.IsNaN(n.f) }

// compareNum returns -1, 0 or +1; ok is false when the values are unordered
// (a NaN is involved), in which case every comparison, equality included, is false.
func compareNum(a, b num) (c int, ok bool) {
	switch {
	case a.isNaN() || b.isNaN():
		return 0, false
	case a.isInt && b.isInt:
		return cmpOrdered(a.i, b.i), true
	case !a.isInt && !b.isInt:
		return cmpOrdered(a.f, b.f), true
	case a.isInt:
		return cmpIntFloat(a.i, b.f), true
	default:
		return -cmpIntFloat(b.i, a.f), true
	}
}

// cmpIntFloat compares an int64 with a float64 that is not an integer in the
// int64 range (numFromFloat guarantees it), without rounding the integer.
func cmpIntFloat(i int64, f float64) int {
	switch {
	case f >= maxInt64Float:
		return -1
	case f < minInt64Float:
		return 1
	}
	// f has a fractional part and lies strictly inside the int64 range.
	if fl := int64(math.Floor(f)); i <= fl {
		return -1
	}
	return 1
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// asNumber reads a request value as a JSON number. Strings are never numbers.
func asNumber(v any) (num, bool) {
	switch x := v.(type) {
	case float64:
		return numFromFloat(x), true
	case int:
		return numFromInt(int64(x)), true
	case int64:
		return numFromInt(x), true
	case json.Number:
		return numFromString(string(x))
	case float32:
		return numFromFloat(float64(x)), true
	case int8:
		return numFromInt(int64(x)), true
	case int16:
		return numFromInt(int64(x)), true
	case int32:
		return numFromInt(int64(x)), true
	case uint:
		return numFromUint(uint64(x)), true
	case uint8:
		return numFromUint(uint64(x)), true
	case uint16:
		return numFromUint(uint64(x)), true
	case uint32:
		return numFromUint(uint64(x)), true
	case uint64:
		return numFromUint(x), true
	case nil, string, bool, []any, map[string]any:
		return num{}, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numFromInt(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return numFromUint(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return numFromFloat(rv.Float()), true
	}
	return num{}, false
}

// asString reads a request value as a string. json.Number is a number, not a string.
func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number, nil, bool, float64, []any, map[string]any:
		return "", false
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}

func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case nil, string, float64, []any, map[string]any:
		return false, false
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Bool {
		return rv.Bool(), true
	}
	return false, false
}

// arrayView is a read-only view of a request array of any Go slice type.
type arrayView struct {
	anys []any
	strs []string
	rv   reflect.Value
	n    int
}

func asArray(v any) (arrayView, bool) {
	switch x := v.(type) {
	case []any:
		return arrayView{anys: x, n: len(x)}, true
	case []string:
		return arrayView{strs: x, n: len(x)}, true
	case nil, string, bool, float64, map[string]any, json.Number:
		return arrayView{}, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return arrayView{}, false // []byte is binary data, not a JSON array
		}
		return arrayView{rv: rv, n: rv.Len()}, true
	}
	return arrayView{}, false
}

func (a arrayView) len() int { return a.n }

func (a arrayView) at(i int) any {
	switch {
	case a.anys != nil:
		return a.anys[i]
	case a.strs != nil:
		return a.strs[i]
	}
	return a.rv.Index(i).Interface()
}

// objectView is a read-only view of a request object: a map with string keys.
type objectView struct {
	anys map[string]any
	strs map[string]string
	rv   reflect.Value
	kind int // 0 anys, 1 strs, 2 reflect
}

func asObject(v any) (objectView, bool) {
	switch x := v.(type) {
	case map[string]any:
		return objectView{anys: x}, true
	case map[string]string:
		return objectView{strs: x, kind: 1}, true
	case nil, string, bool, float64, []any, json.Number:
		return objectView{}, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
		return objectView{rv: rv, kind: 2}, true
	}
	return objectView{}, false
}

func (o objectView) len() int {
	switch o.kind {
	case 0:
		return len(o.anys)
	case 1:
		return len(o.strs)
	}
	return o.rv.Len()
}

func (o objectView) get(k string) (any, bool) {
	switch o.kind {
	case 0:
		v, ok := o.anys[k]
		return v, ok
	case 1:
		v, ok := o.strs[k]
		return v, ok
	}
	mv := o.rv.MapIndex(reflect.ValueOf(k).Convert(o.rv.Type().Key()))
	if !mv.IsValid() {
		return nil, false
	}
	return mv.Interface(), true
}

// equalValue reports strict deep equality between a canonical operand and a
// request value: no coercion between strings, numbers and booleans; numbers
// compare numerically; arrays element-wise; objects by identical key sets.
// Recursion depth is bounded by the operand, which canon limits.
func equalValue(want, got any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case string:
		s, ok := asString(got)
		return ok && s == w
	case num:
		n, ok := asNumber(got)
		if !ok {
			return false
		}
		c, ordered := compareNum(w, n)
		return ordered && c == 0
	case bool:
		b, ok := asBool(got)
		return ok && b == w
	case []any:
		a, ok := asArray(got)
		if !ok || a.len() != len(w) {
			return false
		}
		for i := range w {
			if !equalValue(w[i], a.at(i)) {
				return false
			}
		}
		return true
	case map[string]any:
		o, ok := asObject(got)
		if !ok || o.len() != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := o.get(k)
			if !ok || !equalValue(wv, gv) {
				return false
			}
		}
		return true
	}
	return false
}

// canon converts an operand written in a policy into its canonical form.
// It accepts what encoding/json and YAML decoders produce (including
// json.Number and Go integer kinds) and rejects anything else, NaN and ±Inf.
func canon(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("value nested more than %d levels deep", maxValueDepth)
	}
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case num:
		return x, nil
	case json.Number:
		n, ok := numFromString(string(x))
		if !ok {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		return finite(n)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := canon(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := canon(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any: // YAML mappings with non-string keys
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("object keys must be strings, got %s", typeName(k))
			}
			c, err := canon(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	}
	if n, ok := asNumber(v); ok {
		return finite(n)
	}
	if s, ok := asString(v); ok {
		return s, nil
	}
	if b, ok := asBool(v); ok {
		return b, nil
	}
	if a, ok := asArray(v); ok { // []string, []int, …
		out := make([]any, a.len())
		for i := range out {
			c, err := canon(a.at(i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of Go type %T", v)
}

func finite(n num) (any, error) {
	if !n.isInt && (math.IsNaN(n.f) || math.IsInf(n.f, 0)) {
		return nil, fmt.Errorf("number must be finite, got %v", n.f)
	}
	return n, nil
}

// typeName names the JSON type of a policy or request value for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case num:
		return "number"
	case []any, []string:
		return "array"
	case map[string]any, map[any]any:
		return "object"
	}
	if _, ok := asNumber(v); ok {
		return "number"
	}
	if _, ok := asArray(v); ok {
		return "array"
	}
	if _, ok := asObject(v); ok {
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// copyValue deep-copies a JSON-shaped value so a compiled Set never shares
// mutable maps or slices with its caller.
func copyValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = copyValue(e)
		}
		return out
	case map[string]any:
		return copyMap(x)
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[k] = copyValue(e)
		}
		return out
	case []string:
		return append([]string(nil), x...)
	}
	return v
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = copyValue(e)
	}
	return out
}
