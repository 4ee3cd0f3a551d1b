package herald_test

import (
	"errors"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
)

// TestCheckText: text is refused when it holds a NUL or is not valid UTF-8,
// including the WTF-8 that canonjson makes of a lone surrogate escape; the
// error is an ErrorInvalid *herald.Error naming the field.
func TestCheckText(t *testing.T) {
	tests := []struct {
		name string
		// json is a JSON string literal, parsed by canonjson as the API
		// parses bodies; raw is used when json is "".
		json string
		raw  string
		ok   bool
	}{
		{name: "empty", raw: "", ok: true},
		{name: "ascii", json: `"conn-1"`, ok: true},
		{name: "accented", json: `"café"`, ok: true},
		{name: "escaped_bmp", json: `"\u00e9\u4e2d"`, ok: true},
		{name: "surrogate_pair", json: `"\ud83d\ude00"`, ok: true},
		{name: "emoji_literal", json: `"😀"`, ok: true},
		{name: "control_but_not_nul", json: `"a\tb\u0001"`, ok: true},
		{name: "nul_escape", json: `"a\u0000b"`},
		{name: "nul_only", json: `"\u0000"`},
		{name: "lone_high_surrogate", json: `"\ud800"`},
		{name: "lone_low_surrogate", json: `"\udead"`},
		{name: "reversed_pair", json: `"\ude00\ud83d"`},
		{name: "raw_nul", raw: "a\x00"},
		{name: "raw_invalid_byte", raw: "a\xffb"},
		{name: "raw_truncated_sequence", raw: "\xe2\x82"},
		{name: "raw_overlong", raw: "\xc0\xaf"},
		{name: "raw_wtf8_surrogate", raw: "\xed\xba\xad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.raw
			if tt.json != "" {
				v, err := canonjson.Parse([]byte(tt.json))
				if err != nil {
					t.Fatalf("parse %s: %v", tt.json, err)
				}
				s = v.(string)
			}
			err := herald.CheckText("events[3].connectionId", s)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckText(%q) = %v, want nil", s, err)
				}
				return
			}
			var he *herald.Error
			if !errors.As(err, &he) {
				t.Fatalf("CheckText(%q) = %v, want a *herald.Error", s, err)
			}
			if he.Code != herald.ErrorInvalid || he.Field != "events[3].connectionId" || he.Message == "" {
				t.Fatalf("CheckText(%q) = %+v, want code invalid naming the field", s, he)
			}
		})
	}
}
