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

// OpenAPIVersion returns the OpenAPI document with info.version set to
// version (the server's, as `prescale version` prints it) and the title
// "prescale"; an empty version leaves the document as generated.
func OpenAPIVersion(version string) ([]byte, error) {
	if version == "" {
		return OpenAPI(), nil
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
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
