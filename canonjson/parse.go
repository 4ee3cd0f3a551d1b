package canonjson

import (
	"hash/maphash"
	"strconv"
	"sync"
	"unicode/utf8"
)

// SyntaxError is the error Parse returns for input that JSON.parse would
// reject, and for input nested more than MaxDepth levels deep.
type SyntaxError struct {
	Offset int64  // byte offset in the input at which the error was detected
	Msg    string // description of the error
}

// Error returns "canonjson: <msg> at offset N".
func (e *SyntaxError) Error() string {
	return "canonjson: " + e.Msg + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// Parse parses data exactly as JavaScript's JSON.parse parses the string
// that TextDecoder would decode data to, and returns the result as plain Go
// values: nil, bool, float64, string, []any and map[string]any.
//
// The grammar is strict RFC 8259: whitespace is space, tab, LF and CR only;
// no comments, trailing commas, leading zeros, '+' signs, bare '.' or
// non-JSON literals (NaN, Infinity, single quotes); any value may appear at
// top level and must be followed by whitespace only. Numbers are rounded to
// float64 as JavaScript rounds them (literals beyond the float64 range
// become ±Inf). For duplicate keys the last one wins. Members named
// "__proto__" are dropped at every level, as stringifyStable drops them
// (it copies members into a fresh object, where assigning "__proto__" sets
// the prototype instead of creating a property). Lone surrogate escapes are
// kept as WTF-8, and ill-formed UTF-8 inside strings becomes U+FFFD (see the
// package documentation).
//
// Any error is a *SyntaxError, including nesting deeper than MaxDepth.
// Parse never panics, whatever the input.
func Parse(data []byte) (any, error) {
	p := parserPool.Get().(*parser)
	p.data = data
	p.pos = 0
	v, err := p.parseValue(0)
	if err == nil {
		p.skipWS()
		if p.pos < len(p.data) {
			err = p.errorf("unexpected " + describe(p.data[p.pos]) + " after JSON value")
		}
	}
	p.release()
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Canonicalize returns the canonical form of the JSON text data: the result
// of Marshal(Parse(data)), i.e. stringifyStable(JSON.parse(data)).
func Canonicalize(data []byte) ([]byte, error) {
	v, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Marshal(v)
}

type member struct {
	k string
	v any
}

// parser holds scratch stacks reused across nesting levels: the elements of
// an array (the members of an object) are pushed while it is parsed and
// popped into an exactly sized slice (map) when it closes.
type parser struct {
	data    []byte
	pos     int
	buf     []byte // scratch for strings with escapes or ill-formed UTF-8
	elems   []any
	members []member
	// interned are short strings met before, in this parse or an earlier
	// one of the same pooled parser, by a hash of their bytes: webhook
	// bodies repeat the same member names and many of the same values
	// ("sync", "INCREMENTAL"), each otherwise a fresh allocation, and a
	// value one more to box it. A slot holds the last string that hashed
	// to it.
	interned [internSlots]internEntry
}

// internSlots is the size of a parser's table of interned strings;
// maxInternedKey and maxInternedValue the longest member name and string
// value kept there. Longer values (ids, timestamps) are mostly unique:
// they would only push out the names.
const (
	internSlots      = 256
	maxInternedKey   = 32
	maxInternedValue = 16
)

var internSeed = maphash.MakeSeed()

type internEntry struct {
	s string
	v any // s boxed; nil until s is first met as a value
}

// slot returns the interning slot of b, nil when b is longer than max.
func (p *parser) slot(b []byte, max int) *internEntry {
	if len(b) > max {
		return nil
	}
	return &p.interned[maphash.Bytes(internSeed, b)%internSlots]
}

// key returns b, a member name, as a string.
func (p *parser) key(b []byte) string {
	e := p.slot(b, maxInternedKey)
	if e == nil {
		return string(b)
	}
	if e.s != string(b) {
		*e = internEntry{s: string(b)}
	}
	return e.s
}

// value returns b, a string value, as a string in an interface.
func (p *parser) value(b []byte) any {
	e := p.slot(b, maxInternedValue)
	if e == nil {
		return string(b)
	}
	if e.s != string(b) {
		*e = internEntry{s: string(b)}
	}
	if e.v == nil {
		e.v = e.s
	}
	return e.v
}

var parserPool = sync.Pool{New: func() any { return new(parser) }}

func (p *parser) release() {
	p.data = nil
	if cap(p.elems) > 4096 || cap(p.members) > 4096 || cap(p.buf) > 1<<16 {
		return
	}
	clear(p.elems[:cap(p.elems)])
	clear(p.members[:cap(p.members)])
	p.elems = p.elems[:0]
	p.members = p.members[:0]
	parserPool.Put(p)
}

func (p *parser) errorf(msg string) error {
	return &SyntaxError{Offset: int64(p.pos), Msg: msg}
}

// describe names the byte c for an error message.
func describe(c byte) string {
	if c >= 0x20 && c < 0x7F {
		return "character " + strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + string([]byte{hexDigits[c>>4], hexDigits[c&0xF]})
}

func (p *parser) unexpected() error {
	if p.pos >= len(p.data) {
		return p.errorf("unexpected end of JSON input")
	}
	return p.errorf("unexpected " + describe(p.data[p.pos]))
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// parseValue parses a value preceded by optional whitespace. depth is the
// number of arrays and objects enclosing it.
func (p *parser) parseValue(depth int) (any, error) {
	p.skipWS()
	if p.pos >= len(p.data) {
		return nil, p.unexpected()
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.parseObject(depth + 1)
	case '[':
		return p.parseArray(depth + 1)
	case '"':
		b, err := p.parseString()
		if err != nil {
			return nil, err
		}
		return p.value(b), nil
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.parseNumber()
		}
		return nil, p.unexpected()
	}
}

func (p *parser) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if p.pos >= len(p.data) || p.data[p.pos] != lit[i] {
			return p.unexpected()
		}
		p.pos++
	}
	return nil
}

func (p *parser) parseArray(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("exceeded maximum nesting depth of 10000")
	}
	p.pos++ // '['
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return []any{}, nil
	}
	base := len(p.elems)
	for {
		v, err := p.parseValue(depth)
		if err != nil {
			return nil, err
		}
		p.elems = append(p.elems, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.unexpected()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			arr := make([]any, len(p.elems)-base)
			copy(arr, p.elems[base:])
			clear(p.elems[base:])
			p.elems = p.elems[:base]
			return arr, nil
		default:
			return nil, p.unexpected()
		}
	}
}

func (p *parser) parseObject(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, p.errorf("exceeded maximum nesting depth of 10000")
	}
	p.pos++ // '{'
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return map[string]any{}, nil
	}
	base := len(p.members)
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.unexpected()
		}
		kb, err := p.parseString()
		if err != nil {
			return nil, err
		}
		k := p.key(kb)
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.unexpected()
		}
		p.pos++
		v, err := p.parseValue(depth)
		if err != nil {
			return nil, err
		}
		if k != protoKey {
			p.members = append(p.members, member{k, v})
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.unexpected()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			ms := p.members[base:]
			m := make(map[string]any, len(ms))
			for _, kv := range ms {
				m[kv.k] = kv.v // in order, so the last duplicate wins
			}
			clear(ms)
			p.members = p.members[:base]
			return m, nil
		default:
			return nil, p.unexpected()
		}
	}
}

// smallInts holds the float64 values 0..255 already boxed in interfaces.
var smallInts = func() (t [256]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) parseNumber() (any, error) {
	d := p.data
	start := p.pos
	i := start
	if d[i] == '-' {
		i++
	}
	// Integer part: "0" or [1-9][0-9]*.
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && isDigit(d[i]):
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		p.pos = i
		return nil, p.unexpected()
	}
	intEnd := i
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			p.pos = i
			return nil, p.unexpected()
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			p.pos = i
			return nil, p.unexpected()
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	p.pos = i
	lit := d[start:i]

	// Fast path: a plain integer of at most 15 digits is exact in float64.
	if i == intEnd {
		digits := lit
		if digits[0] == '-' {
			digits = digits[1:]
		}
		if len(digits) <= 15 {
			var n int64
			for _, c := range digits {
				n = n*10 + int64(c-'0')
			}
			if lit[0] != '-' && n < int64(len(smallInts)) {
				return smallInts[n], nil // no allocation for boxing
			}
			f := float64(n)
			if lit[0] == '-' {
				f = -f // -0 stays -0, as in JavaScript
			}
			return f, nil
		}
	}
	// strconv.ParseFloat is correctly rounded, like JavaScript. On overflow
	// it returns ±Inf with ErrRange, which is what JavaScript yields; on
	// underflow it returns ±0.
	f, _ := strconv.ParseFloat(string(lit), 64)
	return f, nil
}

// parseString parses a string literal starting at the opening quote, and
// returns its contents: part of the input, or of p.buf when it had
// escapes or ill-formed UTF-8, valid until the next call either way.
func (p *parser) parseString() ([]byte, error) {
	d := p.data
	start := p.pos + 1
	i := start
	// Fast path: no escapes and well-formed UTF-8 -- the literal's bytes
	// are the string.
	for i < len(d) {
		c := d[i]
		if c == '"' {
			p.pos = i + 1
			return d[start:i], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(d[i:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		i += n
	}

	buf := append(p.buf[:0], d[start:i]...)
	for {
		if i >= len(d) {
			p.pos = i
			p.buf = buf
			return nil, p.errorf("unterminated string")
		}
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			p.buf = buf
			return buf, nil
		case c < 0x20:
			p.pos = i
			p.buf = buf
			return nil, p.errorf("invalid control character " + describe(c) + " in string")
		case c == '\\':
			i++
			if i >= len(d) {
				p.pos = i
				p.buf = buf
				return nil, p.errorf("unterminated string")
			}
			esc := d[i]
			i++
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				u, ok := hex4(d, i)
				if !ok {
					p.pos = i - 2
					p.buf = buf
					return nil, p.errorf("invalid \\u escape in string")
				}
				i += 4
				r := rune(u)
				if r >= surrMin && r <= surrLoEnd && i+6 <= len(d) && d[i] == '\\' && d[i+1] == 'u' {
					if u2, ok := hex4(d, i+2); ok && u2 >= 0xDC00 && u2 <= surrMax {
						r = 0x10000 + (r-surrMin)<<10 + (rune(u2) - 0xDC00)
						i += 6
					}
				}
				buf = appendWTF8(buf, r) // a lone surrogate becomes WTF-8
			default:
				p.pos = i - 2
				p.buf = buf
				return nil, p.errorf("invalid escape " + describe(esc) + " in string")
			}
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(d) && d[j] >= 0x20 && d[j] < utf8.RuneSelf && d[j] != '"' && d[j] != '\\' {
				j++
			}
			buf = append(buf, d[i:j]...)
			i = j
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n <= 1 {
				// Ill-formed: one U+FFFD per maximal subpart, as TextDecoder.
				_, n = decode(d, i, false)
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, d[i:i+n]...)
			}
			i += n
		}
	}
}

func hex4(d []byte, i int) (uint16, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var u uint16
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		u = u<<4 | uint16(c)
	}
	return u, true
}
