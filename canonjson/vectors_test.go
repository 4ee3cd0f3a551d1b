package canonjson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// vectorsFile holds the canonical JSON test vectors: inputs and the exact
// bytes Nango's stringifyStable writes for them.
var vectorsFile = filepath.Join("testdata", "canonical-json.json")

type vectorCase struct {
	Name      string  `json:"name"`
	Input     *string `json:"input"`
	Canonical *string `json:"canonical"`
}

func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	path := vectorsFile
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading vectors: %v", err)
	}
	var file struct {
		Cases []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	if len(file.Cases) == 0 {
		t.Fatalf("%s holds no cases", path)
	}
	// encoding/json (an independent decoder) is used for the vector file;
	// cross-check it against Parse so that a lone surrogate escape at the
	// file level, which encoding/json would turn into U+FFFD, cannot
	// silently change a case.
	doc, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	docCases, _ := doc.(map[string]any)["cases"].([]any)
	for i, c := range file.Cases {
		if c.Input == nil || c.Canonical == nil {
			t.Fatalf("case %d (%q): missing input or canonical", i, c.Name)
		}
		if i < len(docCases) {
			dc, _ := docCases[i].(map[string]any)
			if dc["input"] != *c.Input || dc["canonical"] != *c.Canonical {
				t.Fatalf("case %q: encoding/json and Parse disagree on the vector file", c.Name)
			}
		}
	}
	return file.Cases
}

func TestVectors(t *testing.T) {
	for _, c := range loadVectors(t) {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Canonicalize([]byte(*c.Input))
			if err != nil {
				t.Fatalf("Canonicalize(%q): %v", *c.Input, err)
			}
			if want := []byte(*c.Canonical); !bytes.Equal(got, want) {
				t.Fatalf("Canonicalize(%q)\n got: %q\nwant: %q", *c.Input, got, want)
			}
			// The canonical form is a fixed point.
			again, err := Canonicalize(got)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("canonical form not stable: %q -> %q, %v", got, again, err)
			}
		})
	}
}
