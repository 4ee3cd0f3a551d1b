package forward

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/canonjson"
)

// TestParseBody: JSON as JSON.parse reads it, forms as objects of their
// first values, a JSON body labelled as a form (curl -d) as JSON, an empty
// body as null, and broken JSON as an error.
func TestParseBody(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name, contentType, body, want string
		err                           bool
	}{
		{"json", "application/json", `{"b":1,"a":9007199254740993}`, `{"a":9007199254740992,"b":1}`, false},
		{"no content type", "", `[1,"x"]`, `[1,"x"]`, false},
		{"form", form, "a=1&b=two&a=3", `{"a":"1","b":"two"}`, false},
		{"json labelled form", form + "; charset=utf-8", ` {"connectionId":"c1"}`, `{"connectionId":"c1"}`, false},
		{"brace form that is not json", form, "{x=1", `{"{x":"1"}`, false},
		{"empty", "application/json", "  ", `null`, false},
		{"broken json", "application/json", `{"a":`, "", true},
		{"broken form", form, "a=%zz", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := ParseBody(&Request{Header: http.Header{"Content-Type": {c.contentType}}, Body: []byte(c.body)})
			if c.err {
				if err == nil {
					t.Fatalf("parsed %q as %v, want an error", c.body, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := canonjson.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}
