// Package openapitest reads docs/openapi.yaml for the tests that keep it
// true: it parses the document, walks its operations, resolves its local
// references and compiles its schemas (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1) to validate examples and real answers against them. Only
// tests import it.
package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/docs"
)

// base is the URL the document is known by to the schema compiler; its
// "#/components/schemas/…" references resolve inside it.
const base = "https://herald.invalid/openapi.json"

// Methods are the HTTP methods an OpenAPI path item may hold, lower-cased
// as the document writes them.
var Methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Doc is the parsed document.
type Doc struct {
	// Root is the document as JSON values: map[string]any, []any,
	// string, bool, nil and json.Number.
	Root map[string]any

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

// Load parses docs.OpenAPI.
func Load() (*Doc, error) { return Parse(docs.OpenAPI) }

// Parse parses an OpenAPI document written in YAML (or JSON).
func Parse(src []byte) (*Doc, error) {
	var y any
	if err := yaml.Unmarshal(src, &y); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	// Through JSON, so that the values are exactly what a JSON document
	// would give: numbers as json.Number, no YAML-only types.
	b, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("openapi: not expressible as JSON: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi: the document is not an object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(base, root); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return &Doc{Root: root, compiler: c, schemas: map[string]*jsonschema.Schema{}}, nil
}

// Pointer joins tokens into a JSON pointer ("#/paths/~1events/post"),
// escaping "~" and "/".
func Pointer(tokens ...string) string {
	var b strings.Builder
	b.WriteString("#")
	for _, t := range tokens {
		b.WriteString("/")
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// Lookup returns the value at a local JSON pointer ("#/components/…").
func (d *Doc) Lookup(ptr string) (any, bool) {
	rest, ok := strings.CutPrefix(ptr, "#")
	if !ok {
		return nil, false
	}
	var v any = d.Root
	if rest == "" {
		return v, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(rest, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch node := v.(type) {
		case map[string]any:
			if v, ok = node[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Deref follows v while it is a Reference Object ({"$ref": "#/…"}) and
// returns what it points to, with that value's pointer (ptr when v is no
// reference).
func (d *Doc) Deref(ptr string, v any) (string, any, error) {
	for range 16 {
		m, ok := v.(map[string]any)
		if !ok {
			return ptr, v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return ptr, v, nil
		}
		if v, ok = d.Lookup(ref); !ok {
			return "", nil, fmt.Errorf("%s: $ref %q resolves to nothing", ptr, ref)
		}
		ptr = ref
	}
	return "", nil, fmt.Errorf("%s: $ref chain too long", ptr)
}

// Schema compiles the schema at a local JSON pointer, once.
func (d *Doc) Schema(ptr string) (*jsonschema.Schema, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.schemas[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(base + ptr)
	if err != nil {
		return nil, err
	}
	d.schemas[ptr] = s
	return s, nil
}

// Validate validates v (JSON values, as UnmarshalJSON returns them)
// against the schema at ptr.
func (d *Doc) Validate(ptr string, v any) error {
	s, err := d.Schema(ptr)
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// ValidateJSON validates a JSON text against the schema at ptr.
func (d *Doc) ValidateJSON(ptr string, body []byte) error {
	v, err := UnmarshalJSON(body)
	if err != nil {
		return err
	}
	return d.Validate(ptr, v)
}

// UnmarshalJSON parses a JSON text into the values Validate takes.
func UnmarshalJSON(body []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(body))
}

// Operation is one operation of the document.
type Operation struct {
	// Method is upper-case ("GET"); Path is the document's path template.
	Method, Path string
	// Ptr points at the operation object.
	Ptr string
	// Op is the operation object; Item the path item that holds it.
	Op, Item map[string]any
}

// String is "METHOD /path", the form of a http.ServeMux pattern.
func (o Operation) String() string { return o.Method + " " + o.Path }

// Operations returns every operation, ordered by path then method.
func (d *Doc) Operations() []Operation {
	paths, _ := d.Root["paths"].(map[string]any)
	var ops []Operation
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, m := range Methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			ops = append(ops, Operation{Method: strings.ToUpper(m), Path: p, Ptr: Pointer("paths", p, m), Op: op, Item: item})
		}
	}
	return ops
}

// Operation returns the operation "METHOD /path".
func (d *Doc) Operation(method, path string) (Operation, bool) {
	for _, o := range d.Operations() {
		if o.Method == method && o.Path == path {
			return o, true
		}
	}
	return Operation{}, false
}

// Parameter is a resolved Parameter Object and its pointer.
type Parameter struct {
	Ptr       string
	Name, In  string
	Required  bool
	SchemaPtr string
	Object    map[string]any
}

// Parameters returns the operation's parameters: the path item's, unless
// the operation overrides one of the same name and location, then its own.
func (d *Doc) Parameters(o Operation) ([]Parameter, error) {
	byKey := map[string]Parameter{}
	var order []string
	for _, src := range []struct {
		ptr  string
		list any
	}{
		{strings.TrimSuffix(o.Ptr, "/"+strings.ToLower(o.Method)) + "/parameters", o.Item["parameters"]},
		{o.Ptr + "/parameters", o.Op["parameters"]},
	} {
		list, _ := src.list.([]any)
		for i, raw := range list {
			ptr, v, err := d.Deref(src.ptr+"/"+strconv.Itoa(i), raw)
			if err != nil {
				return nil, err
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not a parameter object", ptr)
			}
			p := Parameter{Ptr: ptr, Object: m, SchemaPtr: ptr + "/schema"}
			p.Name, _ = m["name"].(string)
			p.In, _ = m["in"].(string)
			p.Required, _ = m["required"].(bool)
			key := p.In + ":" + p.Name
			if _, seen := byKey[key]; !seen {
				order = append(order, key)
			}
			byKey[key] = p
		}
	}
	out := make([]Parameter, 0, len(order))
	for _, k := range order {
		out = append(out, byKey[k])
	}
	return out, nil
}

// Response is a resolved Response Object of an operation.
type Response struct {
	Ptr    string
	Object map[string]any
}

// MediaTypes returns the media types of the response's content, sorted.
func (r Response) MediaTypes() []string {
	content, _ := r.Object["content"].(map[string]any)
	return sortedKeys(content)
}

// SchemaPtr is the pointer of the schema of the response's content of
// mediaType, and whether it has one.
func (r Response) SchemaPtr(mediaType string) (string, bool) {
	content, _ := r.Object["content"].(map[string]any)
	mt, ok := content[mediaType].(map[string]any)
	if !ok {
		return "", false
	}
	if _, ok := mt["schema"]; !ok {
		return "", false
	}
	return r.Ptr + "/content/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(mediaType) + "/schema", true
}

// Headers returns the names of the headers the response documents.
func (r Response) Headers() []string {
	h, _ := r.Object["headers"].(map[string]any)
	return sortedKeys(h)
}

// Response returns the operation's response for status, following a
// reference to components/responses.
func (d *Doc) Response(o Operation, status int) (Response, bool, error) {
	responses, _ := o.Op["responses"].(map[string]any)
	raw, ok := responses[strconv.Itoa(status)]
	if !ok {
		return Response{}, false, nil
	}
	ptr, v, err := d.Deref(o.Ptr+"/responses/"+strconv.Itoa(status), raw)
	if err != nil {
		return Response{}, false, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Response{}, false, fmt.Errorf("%s: not a response object", ptr)
	}
	return Response{Ptr: ptr, Object: m}, true, nil
}

// RequestSchemaPtr is the pointer of the operation's JSON request body
// schema, and whether it has one.
func (d *Doc) RequestSchemaPtr(o Operation) (string, bool) {
	body, ok := o.Op["requestBody"].(map[string]any)
	if !ok {
		return "", false
	}
	content, _ := body["content"].(map[string]any)
	if _, ok := content["application/json"]; !ok {
		return "", false
	}
	return o.Ptr + "/requestBody/content/application~1json/schema", true
}

// MediaType is the media type of a Content-Type header value, without
// its parameters ("text/plain; charset=utf-8" is "text/plain").
func MediaType(h http.Header) string {
	mt, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// PathParams returns the names of the {params} of a path template, in
// order; a wildcard that spans segments ({name...}) keeps its "...".
func PathParams(path string) []string {
	var names []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, seg[1:len(seg)-1])
		}
	}
	return names
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
