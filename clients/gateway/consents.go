package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/consent"
)

// consentResult is the answer of the consent endpoints.
type consentResult struct {
	// Ref is what messages cite as claims.consent_ref.
	Ref     string          `json:"ref"`
	Consent *consent.Record `json:"consent"`
}

// postConsent records a consent the agency collected.
func (s *Server) postConsent(w http.ResponseWriter, r *http.Request) {
	var raw map[string]any
	if _, ok := decodeBody(w, r, &raw); !ok {
		return
	}
	if raw == nil {
		writeError(w, http.StatusBadRequest, codeBadJSON, "the body must be a consent record, a JSON object")
		return
	}
	if err := s.pseudonymise(raw); err != nil {
		writeError(w, http.StatusUnprocessableEntity, codeConsentInvalid, err.Error())
		return
	}
	b, _ := json.Marshal(raw)
	var rec consent.Record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		writeError(w, http.StatusBadRequest, codeBadJSON, "the body is not a consent record: "+err.Error())
		return
	}
	if rec.WithdrawnAt != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "withdrawn_at cannot be recorded with a consent; POST /v1/consents/{id}/withdraw withdraws one")
		return
	}
	ref, err := s.client.RecordConsent(r.Context(), rec)
	switch {
	case errors.Is(err, consent.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, codeConsentInvalid, err.Error())
		return
	case errors.Is(err, consent.ErrExists):
		writeError(w, http.StatusConflict, codeConsentExists, err.Error()+"; a consent is never changed: withdraw it and record a new one under a new id")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the consent registry could not be written: "+err.Error())
		return
	}
	rec.ID = ref
	s.log.Info("consent recorded", "system", systemOf(r.Context()), "ref", ref)
	writeJSONResponse(w, http.StatusCreated, consentResult{Ref: ref, Consent: &rec})
}

// consentRef returns the registry reference for the path's id: a reference
// as it is, or this agency's consent id.
func (s *Server) consentRef(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !strings.Contains(id, ".") {
		ref, err := consent.Ref(s.self.ID, id)
		if err != nil {
			writeError(w, http.StatusNotFound, codeNotFound, err.Error())
			return "", false
		}
		return ref, true
	}
	owner, ok := consent.Owner(id)
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, "no consent "+id+": a reference is <agency>.<consent-id>")
		return "", false
	}
	if owner != s.self.ID {
		writeError(w, http.StatusNotFound, codeNotFound, "consent "+id+" was recorded by "+owner+"; an agency reads only its own consents")
		return "", false
	}
	return id, true
}

// getConsent returns a consent this agency recorded.
func (s *Server) getConsent(w http.ResponseWriter, r *http.Request) {
	ref, ok := s.consentRef(w, r)
	if !ok {
		return
	}
	rec, err := s.client.Consent(r.Context(), ref)
	if errors.Is(err, consent.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, "no consent "+ref+" is recorded")
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the consent registry could not be read: "+err.Error())
		return
	}
	writeJSONResponse(w, http.StatusOK, consentResult{Ref: ref, Consent: rec})
}

// withdrawRequest is the optional body of a withdrawal.
type withdrawRequest struct {
	// At is when the consent was withdrawn; absent means now.
	At *time.Time `json:"at,omitempty"`
}

// withdrawConsent records that a consent was withdrawn.
func (s *Server) withdrawConsent(w http.ResponseWriter, r *http.Request) {
	ref, ok := s.consentRef(w, r)
	if !ok {
		return
	}
	var req withdrawRequest
	if r.ContentLength != 0 {
		if _, ok := decodeBody(w, r, &req); !ok {
			return
		}
	}
	var at time.Time
	if req.At != nil {
		at = *req.At
	}
	rec, err := s.client.WithdrawConsent(r.Context(), ref, at)
	switch {
	case errors.Is(err, consent.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "no consent "+ref+" is recorded")
		return
	case errors.Is(err, consent.ErrWithdrawn):
		writeError(w, http.StatusConflict, codeConsentWithdrawn, "consent "+ref+" was already withdrawn")
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the consent registry could not be written: "+err.Error())
		return
	}
	s.log.Info("consent withdrawn", "system", systemOf(r.Context()), "ref", ref)
	writeJSONResponse(w, http.StatusOK, consentResult{Ref: ref, Consent: rec})
}
