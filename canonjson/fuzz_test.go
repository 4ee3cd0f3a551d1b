package canonjson

import (
	"bytes"
	"testing"
)

// badInputs are seeds that Parse must reject.
var badInputs = []string{
	``, ` `, `{`, `[1,]`, `01`, `1.`, `.5`, `+1`, "\"\x01\"", `{"a" 1}`, `nul`,
	`"\u12"`, `[1] x`, `'a'`, `NaN`, `Infinity`, `{"a":1,}`, `"\q"`,
}

// FuzzCanonical checks that Parse never panics and that for any input it
// accepts, Marshal succeeds and its output is a fixed point:
// Marshal(Parse(Marshal(v))) == Marshal(v).
func FuzzCanonical(f *testing.F) {
	for _, c := range loadVectors(f) {
		f.Add([]byte(*c.Input))
		f.Add([]byte(*c.Canonical))
	}
	for _, s := range badInputs {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`"\ud800"`, `"\ud83d\ude00\ud83d"`, "\"\xed\xa0\x80\xff\xe2\x82\"",
		`{"__proto__":{"__proto__":1},"0":1,"01":2,"4294967295":3}`,
		`[-0,1e400,-1e-400,1e21,1e-7,123456789012345680000,5e-324]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse error %T is not *SyntaxError: %v", err, err)
			}
			return
		}
		w1, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(Parse(%q)): %v", data, err)
		}
		v2, err := Parse(w1)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(%q))) = Parse(%q): %v", data, w1, err)
		}
		w2, err := Marshal(v2)
		if err != nil {
			t.Fatalf("second Marshal of %q: %v", w1, err)
		}
		if !bytes.Equal(w1, w2) {
			t.Fatalf("not a fixed point for %q:\n w1: %q\n w2: %q", data, w1, w2)
		}
		c, err := Canonicalize(data)
		if err != nil || !bytes.Equal(c, w1) {
			t.Fatalf("Canonicalize(%q) = %q, %v; want %q", data, c, err, w1)
		}
	})
}
