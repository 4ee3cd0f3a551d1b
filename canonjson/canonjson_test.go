package canonjson

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestAppendNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{0.1, "0.1"},
		{-0.1, "-0.1"},
		{100, "100"},
		{42, "42"},
		{1.5, "1.5"},
		{123.456, "123.456"},
		{0.30000000000000004, "0.30000000000000004"},
		{1e21, "1e+21"},
		{-1e21, "-1e+21"},
		{1e20, "100000000000000000000"},
		{999999999999999900000, "999999999999999900000"},
		{123456789012345680000, "123456789012345680000"},
		{12345678901234567890, "12345678901234567000"},
		{1 << 53, "9007199254740992"},
		{1<<53 - 1, "9007199254740991"},
		{1 << 64, "18446744073709552000"},
		{1e15, "1000000000000000"},
		{1e16, "10000000000000000"},
		{1.5e300, "1.5e+300"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{-1.7976931348623157e308, "-1.7976931348623157e+308"},
		{1e-7, "1e-7"},
		{-1e-7, "-1e-7"},
		{1.5e-7, "1.5e-7"},
		{1e-6, "0.000001"},
		{1.5e-6, "0.0000015"},
		{0.000123, "0.000123"},
		{123e-20, "1.23e-18"},
		{5e-324, "5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"},
		{math.Pi, "3.141592653589793"},
		{1.2345e21, "1.2345e+21"},
		{4294967295, "4294967295"},
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
		{math.Inf(-1), "null"},
	}
	for _, tt := range tests {
		if got := string(AppendNumber(nil, tt.in)); got != tt.want {
			t.Errorf("AppendNumber(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Appends to, rather than replaces, dst.
	if got := string(AppendNumber([]byte("x="), 2.5)); got != "x=2.5" {
		t.Errorf("AppendNumber with prefix = %q", got)
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"hello", `"hello"`},
		{`"`, `"\""`},
		{`\`, `"\\"`},
		{"/", `"/"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x0b\x1f", `"\u0000\u0001\u000b\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"<a&b>", `"<a&b>"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"héllo ✓ 😀", `"héllo ✓ 😀"`},
		{"\uFFFD", "\"\uFFFD\""},
		// WTF-8 lone surrogates.
		{"\xed\xa0\x80", `"\ud800"`},
		{"\xed\xbf\xbf", `"\udfff"`},
		{"a\xed\xb8\x80b", `"a\ude00b"`},
		// A WTF-8 high followed by a WTF-8 low surrogate is a pair in JS.
		{"\xed\xa0\xbd\xed\xb8\x80", `"😀"`},
		// Low then high is not a pair.
		{"\xed\xb8\x80\xed\xa0\xbd", `"\ude00\ud83d"`},
		// Ill-formed UTF-8: one U+FFFD per maximal subpart.
		{"\xff", "\"\uFFFD\""},
		{"\xe2\x82", "\"\uFFFD\""},
		{"\xe2\x82x", "\"\uFFFDx\""},
		{"\xc0\xaf", "\"\uFFFD\uFFFD\""},
		{"\xf0\x9f\x98", "\"\uFFFD\""},
		{"\xf4\x90\x80\x80", "\"\uFFFD\uFFFD\uFFFD\uFFFD\""},
		{"\xed\xa0", "\"\uFFFD\""},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`null`, nil},
		{`true`, true},
		{` false `, false},
		{`0`, 0.0},
		{`-0`, math.Copysign(0, -1)},
		{`1e400`, math.Inf(1)},
		{`-1e400`, math.Inf(-1)},
		{`1e-400`, 0.0},
		{`9007199254740993`, 9007199254740992.0},
		{`123456789012345`, 123456789012345.0},
		{`-123456789012345678`, -123456789012345678.0},
		{`1E+2`, 100.0},
		{`0.5e-1`, 0.05},
		{`"a\/b"`, "a/b"},
		{`"\u00e9\u00E9"`, "éé"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud800"`, "\xed\xa0\x80"},
		{`"\uDFFF"`, "\xed\xbf\xbf"},
		{`"\ud800\u0041"`, "\xed\xa0\x80A"},
		{`"\ud83d\ud83d\ude00"`, "\xed\xa0\xbd😀"},
		{`"\ude00\ud83d"`, "\xed\xb8\x80\xed\xa0\xbd"},
		{`"\udbff\udfff"`, "\U0010FFFF"},
		{"\"\xff\"", "\uFFFD"},
		{"\"\xe2\x82\"", "\uFFFD"},
		{"\"a\xc0\xafb\"", "a\uFFFD\uFFFDb"},
		{"\"\xed\xa0\x80\"", "\uFFFD\uFFFD\uFFFD"},
		{"\"\xf0\x9f\x98\\n\"", "\uFFFD\n"},
		{"\"\x7f\"", "\x7f"},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if f, ok := tt.want.(float64); ok {
			g, ok := got.(float64)
			if !ok || math.Float64bits(g) != math.Float64bits(f) {
				t.Errorf("Parse(%q) = %#v, want %v", tt.in, got, f)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestLoneSurrogateRoundTrip(t *testing.T) {
	for in, want := range map[string]string{
		`"\ud800"`:                  `"\ud800"`,
		`"\uD800"`:                  `"\ud800"`,
		`"\uDBFF x \uDC00"`:         `"\udbff x \udc00"`,
		`["\ude00\ud83d"]`:          `["\ude00\ud83d"]`,
		`{"\udc00":"\ud800\ud800"}`: `{"\udc00":"\ud800\ud800"}`,
		`"\ud83d\ude00\ud83d"`:      `"😀\ud83d"`,
		`"\uD83D\uDE00"`:            `"😀"`,
	} {
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	bad := []string{
		``, ` `, " \t\r\n ",
		`{`, `[`, `[1`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{,}`, `[,1]`, `{1:2}`, `{'a':1}`,
		`01`, `-01`, `00`, `1.`, `.5`, `+1`, `-`, `1e`, `1e+`, `1.e5`, `-.5`, `0x10`, `1_000`,
		"\"\x01\"", "\"a\nb\"", "\"\x1f\"", `"abc`, `"\`, `"\"`,
		`nul`, `nulls`, `tru`, `True`, `NULL`, `undefined`,
		`"\u12"`, `"\u12g4"`, `"\x41"`, `"\q"`, `"\U0041"`, `"\'"`,
		`[1] x`, `1 2`, `{} {}`, `"a" "b"`,
		`'a'`, `NaN`, `Infinity`, `-Infinity`,
		`/* c */ 1`, `1 // c`,
		"\v1", "\f1", "\u00a01", "1\u2028",
		"\xef\xbb\xbf1", // a byte order mark is not whitespace
		"\xff",
	}
	for _, in := range bad {
		v, err := Parse([]byte(in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %#v, %v; want *SyntaxError", in, v, err)
			continue
		}
		if v != nil {
			t.Errorf("Parse(%q) returned value %#v with error", in, v)
		}
		if se.Offset < 0 || se.Offset > int64(len(in)) {
			t.Errorf("Parse(%q): offset %d out of range", in, se.Offset)
		}
		if !strings.HasPrefix(se.Error(), "canonjson: ") || !strings.Contains(se.Error(), " at offset ") {
			t.Errorf("Parse(%q): bad error text %q", in, se.Error())
		}
		if _, err := Canonicalize([]byte(in)); !errors.As(err, &se) {
			t.Errorf("Canonicalize(%q): %v; want *SyntaxError", in, err)
		}
	}
}

func TestSyntaxErrorOffset(t *testing.T) {
	tests := []struct {
		in  string
		off int64
	}{
		{``, 0},
		{`[1,]`, 3},
		{`{"a" 1}`, 5},
		{`[1] x`, 4},
		{`01`, 1},
		{"\"ab\x01\"", 3},
		{`"\q"`, 1},
		{`nul`, 3},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != tt.off {
			t.Errorf("Parse(%q): %v; want offset %d", tt.in, err, tt.off)
		}
	}
	se := &SyntaxError{Offset: 7, Msg: "boom"}
	if got := se.Error(); got != "canonjson: boom at offset 7" {
		t.Errorf("Error() = %q", got)
	}
}

func nested(open, close string, n int) []byte {
	return []byte(strings.Repeat(open, n) + "0" + strings.Repeat(close, n))
}

func TestDepthLimit(t *testing.T) {
	for _, c := range []struct{ open, close string }{{"[", "]"}, {`{"a":`, "}"}, {`[{"a":`, "}]"}} {
		per := 1
		if c.open == `[{"a":` {
			per = 2
		}
		ok := nested(c.open, c.close, MaxDepth/per)
		v, err := Parse(ok)
		if err != nil {
			t.Fatalf("Parse(depth %d %s): %v", MaxDepth, c.open, err)
		}
		out, err := Marshal(v)
		if err != nil || !bytes.Equal(out, ok) {
			t.Fatalf("Marshal(depth %d %s): %v", MaxDepth, c.open, err)
		}
		var se *SyntaxError
		if _, err := Parse(nested(c.open, c.close, MaxDepth/per+1)); !errors.As(err, &se) {
			t.Fatalf("Parse(depth %d %s): %v; want *SyntaxError", MaxDepth+per, c.open, err)
		}
	}
	// Very deep input fails fast, without a stack overflow.
	var se *SyntaxError
	if _, err := Parse(bytes.Repeat([]byte("["), 10_000_000)); !errors.As(err, &se) {
		t.Fatalf("Parse(10M '['): %v", err)
	}

	// Marshal: one level too deep.
	var v any = map[string]any{"k": 1}
	for i := 1; i < MaxDepth; i++ {
		v = []any{v}
	}
	if _, err := Marshal(v); err != nil {
		t.Fatalf("Marshal(depth %d): %v", MaxDepth, err)
	}
	if _, err := Marshal([]any{v}); err == nil {
		t.Fatalf("Marshal(depth %d): no error", MaxDepth+1)
	}
	// Cyclic values are too deep, not a hang or a crash.
	cyc := map[string]any{}
	cyc["self"] = cyc
	if _, err := Marshal(cyc); err == nil {
		t.Fatal("Marshal(cyclic map): no error")
	}
	arr := []any{nil}
	arr[0] = arr
	if _, err := Marshal(arr); err == nil {
		t.Fatal("Marshal(cyclic slice): no error")
	}
}

func TestDuplicateKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"dup":1,"a":0,"dup":2}`, `{"a":0,"dup":2}`},
		{`{"a":{"x":1},"a":[2]}`, `{"a":[2]}`},
		{`{"a":1,"a":2,"a":3}`, `{"a":3}`},
		{`{"\u0061":1,"a":2}`, `{"a":2}`},
		{`[{"k":1,"k":null}]`, `[{"k":null}]`},
		{`{"\ud83d\ude00":1,"😀":2}`, `{"😀":2}`},
	}
	for _, tt := range tests {
		got, err := Canonicalize([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestProtoDropped(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1,"__proto__":{"x":1}}`, `{"a":1}`},
		{`{"__proto__":1}`, `{}`},
		{`{"__proto__":null,"b":2}`, `{"b":2}`},
		{`{"x":{"y":[{"__proto__":[1],"z":1}],"__proto__":"s"}}`, `{"x":{"y":[{"z":1}]}}`},
		{`{"\u005f_proto__":1,"a":{"__proto__":{"__proto__":1}}}`, `{"a":{}}`},
		{`{"__proto__":1,"__proto__":2}`, `{}`},
		{`{"__proto":1,"_proto__":2,"__PROTO__":3,"__proto__ ":4}`, `{"__PROTO__":3,"__proto":1,"__proto__ ":4,"_proto__":2}`},
		{`["__proto__"]`, `["__proto__"]`},
		{`{"a":"__proto__"}`, `{"a":"__proto__"}`},
	}
	for _, tt := range tests {
		got, err := Canonicalize([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("Canonicalize(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	v, _ := Parse([]byte(`{"a":{"__proto__":1,"b":2}}`))
	if _, ok := v.(map[string]any)["a"].(map[string]any)["__proto__"]; ok {
		t.Error("Parse kept a nested __proto__ member")
	}
	out, err := Marshal(map[string]any{"__proto__": 1, "k": map[string]string{"__proto__": "x", "v": "y"}})
	if err != nil || string(out) != `{"k":{"v":"y"}}` {
		t.Errorf("Marshal with __proto__ = %s, %v", out, err)
	}
}

func TestCompareKeys(t *testing.T) {
	// Each key sorts strictly before the next.
	ordered := []string{
		"0", "1", "2", "9", "10", "11", "99", "100", "4294967294",
		"", " ", "-1", "00", "01", "1.5", "1e3", "4294967295", "4294967296", "99999999999",
		"A", "Z", "_", "a", "aa", "b", "z", "\x7f",
		"é", "\u07ff", "\u0800", "\ud7ff",
		"\xed\xa0\x80", // lone U+D800
		"\xed\xa0\xbd", // lone U+D83D sorts before the pairs that start with it
		"😀",            // D83D DE00
		"😀a",
		"\xed\xbf\xbf", // lone U+DFFF
		"\ue000", "\uff21",
		"\uFFFD", "\uffff",
	}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareKeys(ordered[i], ordered[j]); got != want {
				t.Errorf("CompareKeys(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	// Distinct Go strings denoting the same JavaScript string compare equal.
	same := [][2]string{
		{"\xff", "\uFFFD"},
		{"\xe2\x82", "\xfe"},
		{"\xed\xa0\xbd\xed\xb8\x80", "😀"},
		{"a\xffb", "a\uFFFDb"},
	}
	for _, p := range same {
		if got := CompareKeys(p[0], p[1]); got != 0 {
			t.Errorf("CompareKeys(%q, %q) = %d, want 0", p[0], p[1], got)
		}
	}
	// A byte prefix need not be a code-unit prefix: "\xe2\x82" is U+FFFD,
	// "\xe2\x82\xac" is U+20AC.
	if got := CompareKeys("\xe2\x82", "\xe2\x82\xac"); got != 1 {
		t.Errorf(`CompareKeys("\xe2\x82", "€") = %d, want 1`, got)
	}
	keys := []string{"b", "10", "9", "\ue000", "😀", "a", "01", "0"}
	slices.SortFunc(keys, CompareKeys)
	want := []string{"0", "9", "10", "01", "a", "b", "😀", "\ue000"}
	if !slices.Equal(keys, want) {
		t.Errorf("sorted = %q, want %q", keys, want)
	}
}

func TestMarshalTypes(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, `null`},
		{true, `true`},
		{false, `false`},
		{1.0, `1`},
		{math.NaN(), `null`},
		{math.Inf(1), `null`},
		{42, `42`},
		{int64(-7), `-7`},
		{int64(9007199254740993), `9007199254740992`},
		{int64(math.MaxInt64), `9223372036854776000`},
		{"s", `"s"`},
		{[]any{}, `[]`},
		{[]any(nil), `[]`},
		{map[string]any{}, `{}`},
		{map[string]any(nil), `{}`},
		{map[string]string(nil), `{}`},
		{[]any{1, int64(2), 3.5, "x", nil, []any{true}}, `[1,2,3.5,"x",null,[true]]`},
		{map[string]string{"b": "<&>", "a": "\u2028", "10": "x", "2": "y"}, "{\"2\":\"y\",\"10\":\"x\",\"a\":\"\u2028\",\"b\":\"<&>\"}"},
		{map[string]any{"z": map[string]string{"k": "v"}, "a": []any{map[string]any{"y": 1, "x": 2}}},
			`{"a":[{"x":2,"y":1}],"z":{"k":"v"}}`},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}

	unsupported := []any{
		float32(1), int32(1), uint(1), []string{"a"}, []map[string]any{{}},
		map[string]int{"a": 1}, struct{}{}, &map[string]any{}, []byte("x"),
		[]any{1, struct{}{}}, map[string]any{"a": map[string]any{"b": complex(1, 2)}},
	}
	for _, v := range unsupported {
		if out, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%#v) = %s, want error", v, out)
		}
	}

	// Keys that collapse to the same JavaScript string are ambiguous.
	for _, m := range []any{
		map[string]any{"\xff": 1, "\xfe": 2},
		map[string]string{"\uFFFD": "a", "\xff": "b"},
		map[string]any{"x": map[string]any{"😀": 1, "\xed\xa0\xbd\xed\xb8\x80": 2}},
	} {
		if out, err := Marshal(m); err == nil {
			t.Errorf("Marshal(%q) = %s, want error", m, out)
		}
	}
}

func TestAppend(t *testing.T) {
	dst := []byte("prefix:")
	out, err := Append(dst, map[string]any{"b": 1, "a": 2})
	if err != nil || string(out) != `prefix:{"a":2,"b":1}` {
		t.Fatalf("Append = %q, %v", out, err)
	}
	out, err = Append(dst, []any{1, 2, struct{}{}})
	if err == nil || string(out) != "prefix:" {
		t.Fatalf("Append with error = %q, %v; want dst unchanged and an error", out, err)
	}
}

func TestCanonicalizeFixedPoint(t *testing.T) {
	in := `{"b":[1,2.50,-0,1e400,"\u00e9\ud800"],"a":{"y":null,"x":true},"10":1,"2":2}`
	want := `{"2":2,"10":1,"a":{"x":true,"y":null},"b":[1,2.5,0,null,"é\ud800"]}`
	got, err := Canonicalize([]byte(in))
	if err != nil || string(got) != want {
		t.Fatalf("Canonicalize = %s, %v; want %s", got, err, want)
	}
}
