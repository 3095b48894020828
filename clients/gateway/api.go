package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

// Error codes of the gateway's own errors. Where a code of package errcode
// says the same (too_large, unknown_recipient, bad_metadata, internal), that
// one is used.
const (
	codeUnauthorized      = "unauthorized"
	codeBadRequest        = "bad_request"
	codeBadJSON           = "bad_json"
	codeNotFound          = "not_found"
	codeMethod            = "method_not_allowed"
	codeIdempotency       = "idempotency_conflict"
	codeForwardNotAllowed = "forward_not_allowed"
	codeUnavailable       = "broker_unavailable"
	codeConsentInvalid    = "consent_invalid"
	codeConsentExists     = "consent_exists"
	codeConsentWithdrawn  = "consent_withdrawn"
	codeTooLarge          = errcode.TooLarge
	codeUnknownRecipient  = errcode.UnknownRecipient
	codeBadMetadata       = errcode.BadMetadata
	codeInternal          = errcode.Internal
)

// apiError is the body of every error answer.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSONResponse(w, status, apiError{Error: errorBody{Code: code, Message: msg}})
}

// Decision is a decision as the API shows it: the broker's, from its signed
// record, or the gateway's own refusal of a forward (DecidedBy "gateway").
// Reasons are in the order the record gives them, the decisive first.
type Decision struct {
	Allow       bool       `json:"allow"`
	Outcome     string     `json:"outcome"`
	Rule        string     `json:"rule,omitempty"`
	Basis       string     `json:"basis,omitempty"`
	Obligations []string   `json:"obligations"`
	Reasons     []string   `json:"reasons"`
	ErrorCode   string     `json:"error_code,omitempty"`
	DecidedBy   string     `json:"decided_by"`
	DecisionID  string     `json:"decision_id,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

// decisionOf turns the broker's record into a Decision.
func decisionOf(r *decision.Record) Decision {
	t := r.DecidedAt
	d := Decision{
		Allow: r.Allowed(), Outcome: r.Outcome, Rule: r.Rule, Basis: r.Basis,
		Obligations: r.Obligations, Reasons: r.Reasons, ErrorCode: r.ErrorCode,
		DecidedBy: "broker", DecisionID: r.DecisionID, DecidedAt: &t,
	}
	if d.Obligations == nil {
		d.Obligations = []string{}
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	return d
}

type ctxKey struct{}

// systemOf returns the calling system the request was authenticated as.
func systemOf(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}

// statusWriter remembers the status, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets the event stream through the access log's writer.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/messages", s.postMessage)
	api.HandleFunc("GET /v1/messages/{id}", s.getMessage)
	api.HandleFunc("GET /v1/inbox", s.listInbox)
	api.HandleFunc("GET /v1/inbox/{id}", s.getInbox)
	api.HandleFunc("POST /v1/inbox/{id}/handled", s.markHandled)
	api.HandleFunc("GET /v1/events", s.serveEvents)
	api.HandleFunc("POST /v1/consents", s.postConsent)
	api.HandleFunc("GET /v1/consents/{id}", s.getConsent)
	api.HandleFunc("POST /v1/consents/{id}/withdraw", s.withdrawConsent)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSONResponse(w, http.StatusOK, map[string]string{"status": "ok", "agency": s.self.ID})
	})
	mux.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(OpenAPI)
	})
	mux.Handle("/v1/", s.authenticated(api))
	if s.cfg.Desk != nil {
		mux.Handle("/desk/", s.cfg.Desk)
		mux.Handle("GET /desk", http.RedirectHandler("/desk/", http.StatusSeeOther))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeNotFound, "no such path; the API is under /v1/ (GET /v1/openapi.yaml)")
	})
	return mux
}

// authenticated lets through only requests of a configured calling system,
// answers unknown paths and methods in JSON, and logs each call with the
// system's name (never a body).
func (s *Server) authenticated(api *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		name := authenticate(s.systems, r)
		pattern := ""
		defer func() {
			s.log.Info("api", "system", name, "method", r.Method, "route", pattern, "status", sw.status, "ms", time.Since(start).Milliseconds())
		}()
		if name == "" {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="sekretessbroker gateway"`)
			writeError(sw, http.StatusUnauthorized, codeUnauthorized,
				"give a calling system's token as \"Authorization: Bearer TOKEN\" (the default system's is in the agency's home, "+TokenFile+") or its client certificate")
			return
		}
		_, p := api.Handler(r)
		pattern = p
		if p == "" {
			// The mux's own 404 and 405 answers are plain text; answer in JSON.
			if _, other := api.Handler(withMethod(r)); other != "" {
				writeError(sw, http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed on "+r.URL.Path)
				return
			}
			writeError(sw, http.StatusNotFound, codeNotFound, "no such path: "+r.URL.Path)
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBody)
		api.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, name)))
	})
}

// withMethod returns r with the other method its path is served for, to
// tell a wrong method from a wrong path.
func withMethod(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	if strings.EqualFold(r.Method, http.MethodGet) {
		c.Method = http.MethodPost
	} else {
		c.Method = http.MethodGet
	}
	return c
}
