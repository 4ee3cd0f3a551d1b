package docs_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/docs"
	"github.com/heraldhq/herald/internal/openapitest"
)

// load parses the embedded document, failing the test when it cannot.
func load(t *testing.T) *openapitest.Doc {
	t.Helper()
	d, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestOpenAPIDocument checks the document's shape: OpenAPI 3.1.0, every
// local $ref resolves, every schema of components compiles as JSON Schema
// 2020-12, and every operation is complete.
func TestOpenAPIDocument(t *testing.T) {
	if len(docs.OpenAPI) == 0 {
		t.Fatal("docs.OpenAPI is empty: openapi.yaml is not embedded")
	}
	d := load(t)
	if v := d.Root["openapi"]; v != "3.1.0" {
		t.Errorf("openapi: %v, want 3.1.0", v)
	}

	t.Run("refs", func(t *testing.T) {
		walk(d.Root, "#", func(ptr string, m map[string]any) {
			ref, ok := m["$ref"].(string)
			if !ok {
				return
			}
			if !strings.HasPrefix(ref, "#/") {
				t.Errorf("%s: $ref %q is not local", ptr, ref)
			} else if _, ok := d.Lookup(ref); !ok {
				t.Errorf("%s: $ref %q resolves to nothing", ptr, ref)
			}
		})
	})

	t.Run("schemas compile", func(t *testing.T) {
		schemas, _ := d.Root["components"].(map[string]any)["schemas"].(map[string]any)
		if len(schemas) == 0 {
			t.Fatal("no components/schemas")
		}
		for _, name := range slices.Sorted(maps.Keys(schemas)) {
			if _, err := d.Schema(openapitest.Pointer("components", "schemas", name)); err != nil {
				t.Errorf("components/schemas/%s: %v", name, err)
			}
		}
	})

	schemes, _ := d.Root["components"].(map[string]any)["securitySchemes"].(map[string]any)
	tags := map[string]bool{}
	for _, tag := range d.Root["tags"].([]any) {
		tags[tag.(map[string]any)["name"].(string)] = true
	}
	ids := map[string]string{}
	for _, o := range d.Operations() {
		t.Run(o.String(), func(t *testing.T) {
			id, _ := o.Op["operationId"].(string)
			if id == "" {
				t.Error("no operationId")
			} else if other, dup := ids[id]; dup {
				t.Errorf("operationId %q is also %s's", id, other)
			}
			ids[id] = o.String()
			if s, _ := o.Op["summary"].(string); s == "" {
				t.Error("no summary")
			}
			opTags, _ := o.Op["tags"].([]any)
			if len(opTags) == 0 {
				t.Error("no tags")
			}
			for _, tag := range opTags {
				if !tags[tag.(string)] {
					t.Errorf("tag %v is not declared", tag)
				}
			}
			security, ok := o.Op["security"].([]any)
			if !ok {
				security, _ = d.Root["security"].([]any)
			}
			for _, req := range security {
				for name := range req.(map[string]any) {
					if _, ok := schemes[name]; !ok {
						t.Errorf("security scheme %q is not declared", name)
					}
				}
			}
			responses, _ := o.Op["responses"].(map[string]any)
			succeeds := false
			for code := range responses {
				n, err := strconv.Atoi(code)
				if err != nil || n < 100 || n > 599 {
					t.Errorf("response %q is not a status code", code)
				}
				succeeds = succeeds || n < 400
				resp, _, err := d.Response(o, n)
				if err != nil {
					t.Fatal(err)
				}
				if desc, _ := resp.Object["description"].(string); desc == "" {
					t.Errorf("response %s has no description", code)
				}
				if n < 300 && slices.Contains(resp.MediaTypes(), "application/json") && !hasExample(d, resp.Ptr+"/content/application~1json") {
					t.Errorf("response %s has no example", code)
				}
			}
			if !succeeds {
				t.Error("no success response")
			}
			if ptr, ok := d.RequestSchemaPtr(o); ok && !hasExample(d, strings.TrimSuffix(ptr, "/schema")) {
				t.Error("the request body has no example")
			}
		})
	}
}

// hasExample reports whether the media type object at ptr has an example.
func hasExample(d *openapitest.Doc, ptr string) bool {
	v, _ := d.Lookup(ptr)
	m, _ := v.(map[string]any)
	_, one := m["example"]
	many, _ := m["examples"].(map[string]any)
	return one || len(many) > 0
}

// TestOpenAPIExamples validates every example of the document against its
// schema: the example and examples of media types, parameters and headers,
// and the examples (and example) of schemas.
func TestOpenAPIExamples(t *testing.T) {
	d := load(t)
	checked := 0
	check := func(where, schemaPtr string, v any) {
		checked++
		if err := d.Validate(schemaPtr, v); err != nil {
			t.Errorf("example %s does not match %s:\n%v", where, schemaPtr, err)
		}
	}
	walk(d.Root, "#", func(ptr string, m map[string]any) {
		if _, ok := m["schema"].(map[string]any); ok {
			// A media type, parameter or header object.
			if v, ok := m["example"]; ok {
				check(ptr+"/example", ptr+"/schema", v)
			}
			examples, _ := m["examples"].(map[string]any)
			for _, name := range slices.Sorted(maps.Keys(examples)) {
				at, ex, err := d.Deref(ptr+"/examples/"+name, examples[name])
				if err != nil {
					t.Error(err)
					continue
				}
				v, ok := ex.(map[string]any)["value"]
				if !ok {
					t.Errorf("%s: example without a value", at)
					continue
				}
				check(at, ptr+"/schema", v)
			}
			return
		}
		if !isSchema(ptr) {
			return
		}
		if list, ok := m["examples"].([]any); ok {
			for i, v := range list {
				check(fmt.Sprintf("%s/examples/%d", ptr, i), ptr, v)
			}
		}
		if v, ok := m["example"]; ok {
			check(ptr+"/example", ptr, v)
		}
	})
	if checked < 90 {
		t.Errorf("only %d examples checked: the walk missed some", checked)
	}
}

// isSchema reports whether the object at ptr is a Schema Object: a schema
// of components, the schema of a media type, parameter or header, or a
// part of one.
func isSchema(ptr string) bool {
	return strings.HasPrefix(ptr, "#/components/schemas/") || strings.Contains(ptr, "/schema/") || strings.HasSuffix(ptr, "/schema")
}

// walk calls f for every object of v, with its JSON pointer, parents first.
func walk(v any, ptr string, f func(ptr string, m map[string]any)) {
	switch node := v.(type) {
	case map[string]any:
		f(ptr, node)
		for _, k := range slices.Sorted(maps.Keys(node)) {
			walk(node[k], ptr+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), f)
		}
	case []any:
		for i, e := range node {
			walk(e, ptr+"/"+strconv.Itoa(i), f)
		}
	}
}
