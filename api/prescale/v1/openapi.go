package prescalev1

import (
	_ "embed"
	"slices"
)

//go:embed prescale.swagger.json
var openAPI []byte

// OpenAPI returns the OpenAPI (Swagger 2.0) document of the REST API,
// generated from prescale.proto and prescale_gateway.yaml.
func OpenAPI() []byte { return slices.Clone(openAPI) }
