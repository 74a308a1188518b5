package prescalev1

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
)

//go:embed prescale.swagger.json
var openAPI []byte

// OpenAPI returns the OpenAPI (Swagger 2.0) document of the REST API,
// generated from prescale.proto and prescale_gateway.yaml.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// OpenAPIVersion returns the OpenAPI document of the REST API as it
// answers: with info.version set to version (the server's, as `prescale
// version` prints it; empty leaves the generated one) and the title
// "prescale", 64-bit integers as integers and numbers that may be null
// (the REST JSON writes a gap, NaN, as null; see api's restJSON).
func OpenAPIVersion(version string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if defs, ok := doc["definitions"].(map[string]any); ok {
		for _, d := range defs {
			props, _ := d.(map[string]any)["properties"].(map[string]any)
			for _, p := range props {
				restSchema(p.(map[string]any))
			}
		}
	}
	if version == "" {
		return json.MarshalIndent(doc, "", "  ")
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil {
		info = map[string]any{}
		doc["info"] = info
	}
	info["title"] = "prescale"
	info["version"] = version
	return json.MarshalIndent(doc, "", "  ")
}

// restSchema rewrites a property's schema as the REST JSON writes it.
func restSchema(p map[string]any) {
	if items, ok := p["items"].(map[string]any); ok {
		restSchema(items)
	}
	switch p["format"] {
	case "int64", "uint64":
		if p["type"] == "string" {
			p["type"] = "integer"
		}
	case "double", "float":
		p["x-nullable"] = true
	}
}
