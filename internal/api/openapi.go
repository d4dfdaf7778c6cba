package api

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3 document of every endpoint. The API tests validate each response
// they receive against it, so it cannot drift from what the server sends.
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI)
}
