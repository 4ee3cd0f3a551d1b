package canonjson

// maxArrayIndex is the largest array index (2^32 - 2) in ECMAScript terms.
const maxArrayIndex = 4294967294

// arrayIndex reports whether key is a canonical array index, i.e. the
// decimal string of an integer in [0, 2^32-2] without leading zeros, and
// returns its value.
func arrayIndex(key string) (uint64, bool) {
	if len(key) == 0 || len(key) > 10 || (key[0] == '0' && len(key) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= maxArrayIndex
}

// CompareKeys compares two object keys in the order in which Marshal writes
// them, returning -1, 0 or +1.
//
// That order is the one observable from stringifyStable: keys are sorted
// with JavaScript's default string comparison (UTF-16 code units), and V8
// then enumerates array-index keys (canonical decimal integers from 0 to
// 4294967294) first, in numeric order, followed by all other keys in that
// sorted order. So "2" < "10" < "a" < "é" < "😀" < "\uE000".
//
// Keys are interpreted as JavaScript strings (see the package
// documentation): a WTF-8 lone surrogate compares as its code unit and
// ill-formed UTF-8 compares as U+FFFD. CompareKeys therefore returns 0 for
// distinct Go strings that denote the same JavaScript string.
func CompareKeys(a, b string) int {
	ai, aok := arrayIndex(a)
	bi, bok := arrayIndex(b)
	switch {
	case aok && bok:
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	case aok:
		return -1
	case bok:
		return 1
	}
	return compareUTF16(a, b)
}

// compareUTF16 compares the UTF-16 code unit sequences denoted by a and b.
func compareUTF16(a, b string) int {
	if a == b {
		return 0
	}
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i < n && a[i] < 0x80 && b[i] < 0x80 && (i == 0 || a[i-1] < 0x80) {
		// Fast path: the strings first differ at an ASCII byte that is not
		// inside a multi-byte sequence, so the code units differ there too.
		if a[i] < b[i] {
			return -1
		}
		return 1
	}
	// Back up to a synchronization point inside the common prefix: a byte
	// that is not a continuation byte (a decoder is always at the start of a
	// sequence there) or the start of the strings.
	if i > 0 {
		i--
		for i > 0 && isCont(a[i]) {
			i--
		}
	}
	ia := unitIter{s: a, i: i}
	ib := unitIter{s: b, i: i}
	for {
		ua, oka := ia.next()
		ub, okb := ib.next()
		switch {
		case !oka && !okb:
			return 0
		case !oka:
			return -1
		case !okb:
			return 1
		case ua < ub:
			return -1
		case ua > ub:
			return 1
		}
	}
}
