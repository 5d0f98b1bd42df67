package fakegithub

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// fill completes v (decoded JSON: maps, slices, strings, numbers,
// booleans, nil) into an instance of schema: every required property the
// fake does not model gets a type-correct placeholder (null where the
// schema allows it), and the properties the fake sets are kept. The
// result is then validated against the same schema, so a wrongly typed
// value the fake sets fails the test.
func fill(ref *openapi3.SchemaRef, v any, depth int) any { return fillNamed(ref, v, depth, "") }

// fillNamed is fill for the property name, which picks realistic
// placeholders where the description types a field only as a string
// (timestamps named *_at, URLs named *url, commit SHAs).
func fillNamed(ref *openapi3.SchemaRef, v any, depth int, name string) any {
	if ref == nil || ref.Value == nil || depth > 16 {
		return v
	}
	s := ref.Value
	if len(s.AllOf) > 0 {
		m, _ := v.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for _, part := range s.AllOf {
			if pm, ok := fill(part, m, depth+1).(map[string]any); ok {
				for k, x := range pm {
					m[k] = x
				}
			}
		}
		return fillObject(s, m, depth)
	}
	if alts := append(append(openapi3.SchemaRefs{}, s.OneOf...), s.AnyOf...); len(alts) > 0 {
		if v == nil && s.Nullable {
			return nil
		}
		for _, a := range alts {
			if a.Value != nil && kindMatches(a.Value, v) {
				return fill(a, v, depth+1)
			}
		}
		return fill(alts[0], v, depth+1)
	}
	if v == nil {
		if s.Nullable {
			return nil
		}
		if len(s.Enum) > 0 {
			return s.Enum[0]
		}
	}
	switch {
	case s.Type.Is("object") || (s.Type.IsEmpty() && len(s.Properties) > 0):
		m, ok := v.(map[string]any)
		if !ok {
			if v != nil {
				return v
			}
			m = map[string]any{}
		}
		return fillObject(s, m, depth)
	case s.Type.Is("array"):
		a, ok := v.([]any)
		if !ok {
			if v != nil {
				return v
			}
			return []any{}
		}
		for i := range a {
			a[i] = fill(s.Items, a[i], depth+1)
		}
		return a
	case v != nil:
		return v
	case s.Type.Is("string"):
		switch {
		case strings.HasSuffix(name, "_at"):
			return "2024-01-01T00:00:00Z"
		case strings.HasSuffix(name, "url"):
			return "https://github.example.invalid/placeholder"
		case name == "sha" || strings.HasSuffix(name, "_sha"):
			return "0000000000000000000000000000000000000000"
		}
		switch s.Format {
		case "date-time":
			return "2024-01-01T00:00:00Z"
		case "date":
			return "2024-01-01"
		case "uri", "url":
			return "https://github.example.invalid/placeholder"
		case "email":
			return "placeholder@example.invalid"
		}
		return "placeholder"
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil && *s.Min > 1 {
			return *s.Min
		}
		return 1
	case s.Type.Is("boolean"):
		return false
	case s.Type.Is("null"):
		return nil
	}
	return v
}

func fillObject(s *openapi3.Schema, m map[string]any, depth int) map[string]any {
	for _, k := range s.Required {
		if _, ok := m[k]; !ok {
			m[k] = fillNamed(s.Properties[k], nil, depth+1, k)
		}
	}
	for k, x := range m {
		if p, ok := s.Properties[k]; ok && x != nil {
			m[k] = fillNamed(p, x, depth+1, k)
		}
	}
	return m
}

func kindMatches(s *openapi3.Schema, v any) bool {
	switch v.(type) {
	case nil:
		return s.Nullable || s.Type.Is("null")
	case map[string]any:
		return s.Type.Is("object") || len(s.Properties) > 0 || len(s.AllOf) > 0
	case []any:
		return s.Type.Is("array")
	case string:
		return s.Type.Is("string")
	case bool:
		return s.Type.Is("boolean")
	case float64, int, int64:
		return s.Type.Is("integer") || s.Type.Is("number")
	}
	return false
}
