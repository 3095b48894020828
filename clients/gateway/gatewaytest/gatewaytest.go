// Package gatewaytest is test support: it checks requests to an agency
// gateway and its answers against the API's specification
// (clients/gateway/openapi.yaml) with kin-openapi, so that every test that
// speaks to a gateway, the contract tests and the commands' and the desk's
// tests, holds the gateway to the same contract.
//
// Only _test.go files import this package; it links kin-openapi, which no
// program carries.
package gatewaytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
)

// Spec is the gateway's specification, loaded and validated.
type Spec struct {
	// Doc is the OpenAPI document.
	Doc    *openapi3.T
	router routers.Router
}

// LoadSpec loads openapi.yaml and checks that it is a valid OpenAPI
// document.
func LoadSpec() (*Spec, error) {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(gateway.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml does not load: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	// Tests' gateways listen on random ports: route by path alone.
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return &Spec{Doc: doc, router: router}, nil
}

// authenticate accepts what the security schemes ask for: a bearer token
// or a client certificate. Whether they are right is the gateway's to say.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	switch in.SecuritySchemeName {
	case "bearer":
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			return nil
		}
	case "clientCertificate":
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			return nil
		}
	}
	return in.NewError(nil)
}

// input returns the validation input of req with body, or an error when the
// specification has no operation for it.
func (s *Spec) input(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	c, err := http.NewRequest(req.Method, "http://gateway"+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	c.Header = req.Header.Clone()
	c.TLS = req.TLS
	route, params, err := s.router.FindRoute(c)
	if err != nil {
		return nil, err
	}
	return &openapi3filter.RequestValidationInput{
		Request: c, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: authenticate, MultiError: true},
	}, nil
}

// ValidateRequest checks req, whose body is body, against the operation
// the specification has for it. For a client certificate to count, set
// req.TLS.PeerCertificates.
func (s *Spec) ValidateRequest(req *http.Request, body []byte) error {
	in, err := s.input(req, body)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateRequest(context.Background(), in)
}

// ValidateResponse checks an answer to req (sent with reqBody): its status
// must be documented for the operation, and its headers and body must match.
// stream leaves out the body of an event stream, which ValidateEvent checks
// event by event. An answer to a request the specification has no operation
// for must be the documented Error.
func (s *Spec) ValidateResponse(req *http.Request, reqBody []byte, status int, header http.Header, body []byte, stream bool) error {
	in, err := s.input(req, reqBody)
	if err != nil {
		if verr := s.ValidateSchema("Error", body); verr != nil {
			return fmt.Errorf("answer %d to a request with no operation (%v) is not an Error: %w", status, err, verr)
		}
		return nil
	}
	in.Options.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: stream},
	}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// ValidateSchema checks the JSON document body against the named schema
// of the specification's components, as JSON Schema 2020-12.
func (s *Spec) ValidateSchema(name string, body []byte) error {
	ref, ok := s.Doc.Components.Schemas[name]
	if !ok {
		return fmt.Errorf("openapi.yaml has no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

// ValidateEvent checks the data of one event of GET /v1/events, or the body
// of one webhook call.
func (s *Spec) ValidateEvent(data []byte) error { return s.ValidateSchema("Event", data) }
