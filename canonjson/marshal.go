package canonjson

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects that Parse and
// Marshal accept. A top-level scalar has depth 0, "[]" has depth 1.
const MaxDepth = 10000

const protoKey = "__proto__"

var errTooDeep = errors.New("canonjson: value nested more than 10000 levels deep")

// Marshal returns v serialized exactly as Nango's stringifyStable (the
// stable mode of fast-safe-stringify 2.1.1 on Node 20) serializes the
// equivalent JavaScript value: compact, object keys sorted as by
// CompareKeys, "__proto__" keys dropped, strings escaped as JSON.stringify
// escapes them (see AppendString) and numbers formatted as by AppendNumber.
//
// v may be built from nil, bool, float64, int, int64, string, []any,
// map[string]any and map[string]string. int and int64 are converted to
// float64 first, as they would be in JavaScript. A nil slice or map is
// written as an empty array or object. Any other type, nesting deeper than
// MaxDepth (which includes cyclic values) and a map holding two distinct
// keys that denote the same JavaScript string (see CompareKeys) are
// errors.
func Marshal(v any) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	out, err := e.value(e.buf[:0], v, 0)
	var res []byte
	if err == nil {
		res = slices.Clone(out)
	}
	e.buf = out[:0]
	e.release()
	return res, err
}

// Append appends the Marshal encoding of v to dst and returns the extended
// buffer. On error it returns dst unchanged (with its original length).
func Append(dst []byte, v any) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	out, err := e.value(dst, v, 0)
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// pair is an object member being written, with its key's sort class (see
// keyClass) computed once rather than at every comparison.
type pair[V any] struct {
	k   string
	v   V
	cls int64
}

const (
	clsASCII    = -1 // not an array index, all ASCII
	clsNonASCII = -2 // not an array index, some non-ASCII bytes
)

// keyClass returns the array index value of k if it is one, else clsASCII
// or clsNonASCII.
func keyClass(k string) int64 {
	if n, ok := arrayIndex(k); ok {
		return int64(n)
	}
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return clsNonASCII
		}
	}
	return clsASCII
}

// sortOrder pushes the indices of ps on order, sorted as comparePairs
// sorts the members. Nested objects push and pop above what is pushed
// here, so the sorted indices stay valid even if order is reallocated
// meanwhile.
func sortOrder[V any](order []int32, ps []pair[V]) []int32 {
	base := len(order)
	for i := range ps {
		order = append(order, int32(i))
	}
	if idx := order[base:]; len(idx) > 1 {
		slices.SortFunc(idx, func(a, b int32) int { return comparePairs(&ps[a], &ps[b]) })
	}
	return order
}

// comparePairs is CompareKeys using the precomputed classes.
func comparePairs[V any](a, b *pair[V]) int {
	switch {
	case a.cls >= 0 && b.cls >= 0:
		return cmp.Compare(a.cls, b.cls)
	case a.cls >= 0:
		return -1
	case b.cls >= 0:
		return 1
	case a.cls == clsASCII && b.cls == clsASCII:
		// For ASCII, byte order is code unit order.
		return strings.Compare(a.k, b.k)
	}
	return compareUTF16(a.k, b.k)
}

// sameKey reports whether two distinct keys, adjacent after sorting, denote
// the same JavaScript string. Only keys with ill-formed UTF-8 can.
func sameKey[V any](a, b pair[V]) bool {
	return a.cls == clsNonASCII && b.cls == clsNonASCII && compareUTF16(a.k, b.k) == 0
}

// encoder holds a buffer and scratch stacks reused across calls and nesting
// levels: an object's members are pushed on top, sorted in place, written,
// and popped.
type encoder struct {
	buf      []byte // output buffer for Marshal, copied out at the end
	anyPairs []pair[any]
	strPairs []pair[string]
	// order is a stack of the members' indices, sorted in place of the
	// members themselves: those hold pointers, and moving one costs write
	// barriers while the collector runs, which under load is much of the
	// time.
	order []int32
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

func (e *encoder) release() {
	// Do not keep references to the caller's values alive, and do not pool
	// very large scratch buffers.
	if cap(e.anyPairs) > 4096 || cap(e.strPairs) > 4096 || cap(e.order) > 4096 || cap(e.buf) > 1<<16 {
		return
	}
	clear(e.anyPairs[:cap(e.anyPairs)])
	clear(e.strPairs[:cap(e.strPairs)])
	e.anyPairs = e.anyPairs[:0]
	e.strPairs = e.strPairs[:0]
	e.order = e.order[:0]
	encoderPool.Put(e)
}

func (e *encoder) value(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case float64:
		return AppendNumber(dst, x), nil
	case string:
		return AppendString(dst, x), nil
	case map[string]any:
		return e.object(dst, x, depth+1)
	case []any:
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.value(dst, el, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]string:
		return e.stringObject(dst, x, depth+1)
	case int:
		return AppendNumber(dst, float64(x)), nil
	case int64:
		return AppendNumber(dst, float64(x)), nil
	default:
		return dst, fmt.Errorf("canonjson: unsupported type %T", v)
	}
}

func (e *encoder) object(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, errTooDeep
	}
	base := len(e.anyPairs)
	for k, v := range m {
		if k != protoKey {
			e.anyPairs = append(e.anyPairs, pair[any]{k, v, keyClass(k)})
		}
	}
	// Nested calls only push and pop above base, so ps stays valid even if
	// e.anyPairs is reallocated meanwhile.
	ps := e.anyPairs[base:]
	obase := len(e.order)
	e.order = sortOrder(e.order, ps)
	order := e.order[obase:]
	defer func() { e.anyPairs, e.order = e.anyPairs[:base], e.order[:obase] }()
	dst = append(dst, '{')
	for i, j := range order {
		p := ps[j]
		if i > 0 {
			if prev := ps[order[i-1]]; sameKey(prev, p) {
				return dst, duplicateKeyError(prev.k, p.k)
			}
			dst = append(dst, ',')
		}
		dst = AppendString(dst, p.k)
		dst = append(dst, ':')
		var err error
		if dst, err = e.value(dst, p.v, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (e *encoder) stringObject(dst []byte, m map[string]string, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, errTooDeep
	}
	base := len(e.strPairs)
	for k, v := range m {
		if k != protoKey {
			e.strPairs = append(e.strPairs, pair[string]{k, v, keyClass(k)})
		}
	}
	ps := e.strPairs[base:]
	obase := len(e.order)
	e.order = sortOrder(e.order, ps)
	order := e.order[obase:]
	defer func() { e.strPairs, e.order = e.strPairs[:base], e.order[:obase] }()
	dst = append(dst, '{')
	for i, j := range order {
		p := ps[j]
		if i > 0 {
			if prev := ps[order[i-1]]; sameKey(prev, p) {
				return dst, duplicateKeyError(prev.k, p.k)
			}
			dst = append(dst, ',')
		}
		dst = AppendString(dst, p.k)
		dst = append(dst, ':')
		dst = AppendString(dst, p.v)
	}
	return append(dst, '}'), nil
}

func duplicateKeyError(a, b string) error {
	return fmt.Errorf("canonjson: keys %q and %q denote the same JavaScript string", a, b)
}

const hexDigits = "0123456789abcdef"

// plain[c] is true for the ASCII bytes that JSON.stringify writes as is.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a JSON string literal written the way
// JSON.stringify writes it (ES2019 "well-formed JSON.stringify"): '"' and
// '\' are backslash-escaped; U+0008, U+0009, U+000A, U+000C and U+000D are
// written as \b, \t, \n, \f and \r; other code points below U+0020 as
// \u00xx with lowercase hex; lone surrogates (held as WTF-8, see the package
// documentation) as \udxxx with lowercase hex; everything else, including
// '/', '<', '>', '&', U+007F, U+2028 and U+2029, as raw UTF-8. Ill-formed
// UTF-8 in s is written as U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		if r, n := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || n > 1 {
			i += n
			continue
		}
		// Ill-formed UTF-8: a WTF-8 surrogate or garbage.
		dst = append(dst, s[start:i]...)
		r, n := decodeJS(s, i)
		switch {
		case r >= surrMin && r <= surrMax:
			dst = append(dst, '\\', 'u',
				hexDigits[r>>12], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
		default: // U+FFFD or a code point built from a surrogate pair
			dst = appendWTF8(dst, r)
		}
		i += n
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
