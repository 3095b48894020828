package gateway

import (
	"encoding/base64"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
)

// inboxSummary is one message in GET /v1/inbox.
type inboxSummary struct {
	ID          string    `json:"id"`
	From        string    `json:"from"`
	Kind        string    `json:"kind"`
	CreatedAt   time.Time `json:"created_at"`
	ReplyTo     string    `json:"reply_to,omitempty"`
	Rule        string    `json:"rule"`
	Basis       string    `json:"basis"`
	Obligations []string  `json:"obligations"`
	// MayForward is false for data that must not be passed on.
	MayForward bool `json:"may_forward"`
	Handled    bool `json:"handled"`
}

// inboxMessage is GET /v1/inbox/{id}: the decrypted content with the
// broker's decision that allowed it.
type inboxMessage struct {
	inboxSummary
	Text          *string          `json:"text,omitempty"`
	PayloadBase64 *string          `json:"payload_base64,omitempty"`
	Decision      Decision         `json:"decision"`
	Receipt       *decision.Record `json:"receipt"`
}

func summary(d *agency.Delivery, handled bool) inboxSummary {
	obl := d.Decision.Obligations
	if obl == nil {
		obl = []string{}
	}
	return inboxSummary{ID: d.ID, From: d.From, Kind: d.Kind, CreatedAt: d.CreatedAt, ReplyTo: d.ReplyTo,
		Rule: d.Decision.Rule, Basis: d.Decision.Basis, Obligations: obl, MayForward: d.MayForward(), Handled: handled}
}

// listInbox lists the open messages, oldest first; ?handled=true lists the
// handled ones instead.
func (s *Server) listInbox(w http.ResponseWriter, r *http.Request) {
	handled := false
	switch v := r.URL.Query().Get("handled"); v {
	case "", "false":
	case "true":
		handled = true
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, "handled must be true or false")
		return
	}
	list, err := s.box.Open()
	if handled {
		list, err = s.box.Handled()
	}
	if err != nil && !errors.Is(err, inbox.ErrDamaged) {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	if err != nil {
		// The readable ones are listed; the damaged files are named in the log.
		s.log.Error("inbox", "err", err)
	}
	out := make([]inboxSummary, 0, len(list))
	for _, d := range list {
		out = append(out, summary(d, handled))
	}
	writeJSONResponse(w, http.StatusOK, out)
}

// getInbox returns one received message, decrypted, with its decision.
func (s *Server) getInbox(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.box.Get(id)
	if inboxFailed(w, id, err) {
		return
	}
	open, _ := s.box.Open()
	handled := true
	for _, o := range open {
		if o.ID == id {
			handled = false
		}
	}
	m := inboxMessage{inboxSummary: summary(d, handled), Decision: decisionOf(d.Decision), Receipt: d.Decision}
	if utf8.Valid(d.Payload) {
		t := string(d.Payload)
		m.Text = &t
	} else {
		b := base64.StdEncoding.EncodeToString(d.Payload)
		m.PayloadBase64 = &b
	}
	writeJSONResponse(w, http.StatusOK, m)
}

// inboxFailed answers err of the inbox about message id, if any: 404 for a
// message the inbox does not hold, 500 otherwise.
func inboxFailed(w http.ResponseWriter, id string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, inbox.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "no message "+id+" in this agency's inbox")
	default:
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
	}
	return true
}

// markHandled moves a message out of the open ones.
func (s *Server) markHandled(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.box.MarkHandled(id)
	if inboxFailed(w, id, err) {
		return
	}
	s.log.Info("handled", "system", systemOf(r.Context()), "id", id)
	writeJSONResponse(w, http.StatusOK, map[string]any{"id": id, "handled": true})
}
