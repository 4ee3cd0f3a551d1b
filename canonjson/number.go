package canonjson

import (
	"math"
	"strconv"
)

// AppendNumber appends f formatted the way JavaScript's Number#toString
// (and so JSON.stringify) formats a finite number: the shortest decimal
// that round-trips, in fixed notation when 1e-7 <= |f| < 1e21 and in
// exponent notation ("1e+21", "1.5e-7") otherwise. Negative zero is written
// as "0". NaN and ±Inf are written as "null", as JSON.stringify does.
func AppendNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	if f == 0 {
		return append(dst, '0') // also -0
	}
	// Integers below 2^53 are written with all their digits: their
	// shortest round-trip representation is the integer itself.
	if f > -1e15 && f < 1e15 && f == math.Trunc(f) {
		return strconv.AppendInt(dst, int64(f), 10)
	}

	// Shortest round-trip digits and decimal exponent. strconv's 'e' format
	// is [-]d[.ddd]e±XX.
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	epos := len(b) - 1
	for b[epos] != 'e' {
		epos--
	}
	exp := 0
	for _, c := range b[epos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[epos+1] == '-' {
		exp = -exp
	}
	// Collect the digits without the decimal point.
	var dbuf [20]byte
	digits := append(dbuf[:0], b[0])
	if epos > 1 {
		digits = append(digits, b[2:epos]...)
	}

	// ECMA-262 Number::toString: value = 0.d1..dk × 10^n.
	k := len(digits)
	n := exp + 1
	if neg {
		dst = append(dst, '-')
	}
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := k; i < n; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := n; i < 0; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		e := n - 1
		if e >= 0 {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '-')
			e = -e
		}
		dst = strconv.AppendInt(dst, int64(e), 10)
	}
	return dst
}
