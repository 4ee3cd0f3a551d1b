package canonjson

// Helpers for decoding Go strings / input bytes into the code points and
// UTF-16 code units a JavaScript engine would see.

const (
	runeError = '\uFFFD'
	surrMin   = 0xD800
	surrLoEnd = 0xDBFF // last high (leading) surrogate
	surrMax   = 0xDFFF
)

// isCont reports whether b is a UTF-8 continuation byte.
func isCont(b byte) bool { return b&0xC0 == 0x80 }

// decode decodes one code point from s at i (i < len(s)).
//
// With wtf8 set, the generalized UTF-8 encodings of surrogate code points
// (ED A0..BF 80..BF) are accepted and returned as the surrogate itself;
// without it they are ill-formed, exactly as for a WHATWG UTF-8 decoder.
//
// An ill-formed sequence yields U+FFFD and the length of its maximal
// subpart: the lead byte plus the continuation bytes that were still valid
// for it, or 1 for a byte that cannot start a sequence. This is the
// "substitution of maximal subparts" practice that TextDecoder and V8 follow.
func decode[T string | []byte](s T, i int, wtf8 bool) (rune, int) {
	b0 := s[i]
	if b0 < 0x80 {
		return rune(b0), 1
	}
	var (
		need   int
		lo, hi byte = 0x80, 0xBF
		r      rune
	)
	switch {
	case b0 >= 0xC2 && b0 <= 0xDF:
		need, r = 1, rune(b0&0x1F)
	case b0 == 0xE0:
		need, r, lo = 2, 0, 0xA0
	case b0 == 0xED:
		need, r = 2, 0xD
		if !wtf8 {
			hi = 0x9F
		}
	case b0 >= 0xE1 && b0 <= 0xEF:
		need, r = 2, rune(b0&0x0F)
	case b0 == 0xF0:
		need, r, lo = 3, 0, 0x90
	case b0 >= 0xF1 && b0 <= 0xF3:
		need, r = 3, rune(b0&0x07)
	case b0 == 0xF4:
		need, r, hi = 3, 4, 0x8F
	default: // 80..C1, F5..FF: cannot start a sequence
		return runeError, 1
	}
	n := 1
	for ; need > 0; need-- {
		if i+n >= len(s) {
			return runeError, n
		}
		c := s[i+n]
		if c < lo || c > hi {
			return runeError, n
		}
		lo, hi = 0x80, 0xBF
		r = r<<6 | rune(c&0x3F)
		n++
	}
	return r, n
}

// decodeJS decodes one JavaScript "character" from the Go string s at i:
// like decode in WTF-8 mode, but a WTF-8 high surrogate immediately followed
// by a WTF-8 low surrogate is combined into the supplementary code point the
// pair denotes.
func decodeJS(s string, i int) (rune, int) {
	r, n := decode(s, i, true)
	if r >= surrMin && r <= surrLoEnd && i+n < len(s) {
		r2, n2 := decode(s, i+n, true)
		if r2 > surrLoEnd && r2 <= surrMax {
			return 0x10000 + (r-surrMin)<<10 + (r2 - 0xDC00), n + n2
		}
	}
	return r, n
}

// appendWTF8 appends the (generalized) UTF-8 encoding of r, which may be a
// surrogate code point.
func appendWTF8(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	default:
		return append(dst, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
}

// unitIter yields the UTF-16 code units of the JavaScript string a Go
// string denotes.
type unitIter struct {
	s    string
	i    int
	pend uint16 // pending low surrogate, 0 if none
}

func (it *unitIter) next() (uint16, bool) {
	if it.pend != 0 {
		u := it.pend
		it.pend = 0
		return u, true
	}
	if it.i >= len(it.s) {
		return 0, false
	}
	r, n := decode(it.s, it.i, true)
	it.i += n
	if r < 0x10000 {
		return uint16(r), true
	}
	r -= 0x10000
	it.pend = uint16(0xDC00 + r&0x3FF)
	return uint16(0xD800 + r>>10), true
}
