package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// sendRequest is the body of POST /v1/messages.
type sendRequest struct {
	To            string          `json:"to"`
	Kind          string          `json:"kind"`
	Claims        json.RawMessage `json:"claims"`
	Text          *string         `json:"text,omitempty"`
	PayloadBase64 *string         `json:"payload_base64,omitempty"`
	ReplyTo       string          `json:"reply_to,omitempty"`
	Basis         string          `json:"basis,omitempty"`
}

// sendResult is the answer 201 (delivered) or 422 (refused).
type sendResult struct {
	ID       string           `json:"id,omitempty"`
	Receipt  *decision.Record `json:"receipt,omitempty"`
	Decision *Decision        `json:"decision,omitempty"`
}

// pendingResult is the answer 202: sent, decision not yet here.
type pendingResult struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// kinds are the message kinds of the policy's vocabulary (policies/README.md).
var kinds = []string{
	agency.KindConcernReport, agency.KindFeedback, agency.KindRequest, agency.KindResponse,
	agency.KindDisclosure, agency.KindReport, "consultation", "meeting", "followup",
}

var (
	ruleID = regexp.MustCompile(`^R-[A-Z0-9]+(-[A-Z0-9]+)*$`)
	// An Idempotency-Key is printable ASCII, as the IETF draft's examples.
	idemKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
)

// HeaderIdempotencyKey names a POST's idempotency key.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderReplayed is "true" on an answer repeated for an Idempotency-Key.
const HeaderReplayed = "Idempotent-Replayed"

// decodeBody decodes a JSON request body strictly into v: unknown fields,
// trailing data and an oversize body are errors, answered here.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("the body is over %d bytes; an envelope holds at most %d bytes", tooBig.Limit, envelope.DefaultMaxSize))
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "the body could not be read: "+err.Error())
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, codeBadJSON, "the body is not the JSON object the API expects: "+err.Error())
		return nil, false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, codeBadJSON, "the body holds more than one JSON value")
		return nil, false
	}
	return body, true
}

// postMessage seals, signs and sends a message and answers with the
// broker's decision.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	body, ok := decodeBody(w, r, &req)
	if !ok {
		return
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	if key != "" && !idemKey.MatchString(key) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Idempotency-Key must be 1-255 printable ASCII characters without spaces")
		return
	}
	m, refusal, status, code, msg := s.prepare(&req)
	if status != 0 {
		writeError(w, status, code, msg)
		return
	}
	if refusal != nil {
		writeJSONResponse(w, http.StatusUnprocessableEntity, sendResult{Decision: refusal})
		s.log.Info("forward refused at the edge", "system", systemOf(r.Context()), "to", req.To, "kind", req.Kind)
		return
	}
	sum := sha256.Sum256(body)
	reqHash := hex.EncodeToString(sum[:])
	system := systemOf(r.Context())
	if key == "" {
		s.send(w, r, m, system, reqHash, "")
		return
	}
	name := keyName(system, key)
	l := s.store.keyLock(name)
	l.Lock()
	defer l.Unlock()
	k, err := s.store.getKey(name)
	if err != nil && !isNotExist(err) {
		writeError(w, http.StatusInternalServerError, codeInternal, "the record of this Idempotency-Key cannot be read: "+err.Error())
		return
	}
	if k != nil {
		if k.RequestSHA256 != reqHash {
			writeError(w, http.StatusConflict, codeIdempotency,
				"this Idempotency-Key was used for another request (message "+k.MessageID+"); use a new key for a new message")
			return
		}
		rec, err := s.store.get(k.MessageID)
		switch {
		case err == nil && rec.State != stateFailed:
			w.Header().Set(HeaderReplayed, "true")
			s.answer(w, r, rec)
			return
		case err != nil && !isNotExist(err):
			writeError(w, http.StatusInternalServerError, codeInternal, "the record of message "+k.MessageID+" cannot be read: "+err.Error())
			return
		}
		// It never reached the broker: seal it anew below.
	}
	s.send(w, r, m, system, reqHash, name)
}

// prepare checks the request and turns it into a message. It returns a
// non-zero status with an error code and message for a bad request, or the
// gateway's refusal of a forward the obligations forbid.
func (s *Server) prepare(req *sendRequest) (m agency.Message, refusal *Decision, status int, code, msg string) {
	bad := func(code, msg string) (agency.Message, *Decision, int, string, string) {
		return agency.Message{}, nil, http.StatusBadRequest, code, msg
	}
	if req.To == "" {
		return bad(codeBadRequest, "to is missing: the recipient agency's id")
	}
	if _, ok := s.dir.Lookup(req.To); !ok {
		return bad(codeUnknownRecipient, fmt.Sprintf("recipient %q is not in the agency directory; check the id", req.To))
	}
	if !slices.Contains(kinds, req.Kind) {
		return bad(codeBadRequest, fmt.Sprintf("kind must be one of %s", strings.Join(kinds, ", ")))
	}
	if req.ReplyTo != "" && !messageID.MatchString(req.ReplyTo) {
		return bad(codeBadRequest, "reply_to must be a message id (32 lowercase hex digits)")
	}
	var payload []byte
	switch {
	case req.Text != nil && req.PayloadBase64 != nil:
		return bad(codeBadRequest, "give text or payload_base64, not both")
	case req.Text != nil:
		payload = []byte(*req.Text)
	case req.PayloadBase64 != nil:
		p, err := base64.StdEncoding.DecodeString(*req.PayloadBase64)
		if err != nil {
			return bad(codeBadRequest, "payload_base64 is not standard base64: "+err.Error())
		}
		payload = p
	default:
		return bad(codeBadRequest, "give the content as text or payload_base64")
	}
	claims, err := s.claims(req)
	if err != nil {
		return bad(codeBadMetadata, err.Error())
	}
	if d := s.forwardCheck(claims); d != nil {
		return agency.Message{}, d, 0, "", ""
	}
	meta, err := json.Marshal(claims)
	if err != nil {
		return bad(codeBadMetadata, err.Error())
	}
	return agency.Message{To: req.To, Kind: req.Kind, ReplyTo: req.ReplyTo, Metadata: json.RawMessage(meta), Payload: payload}, nil, 0, "", ""
}

// claims returns the request's claims as the policy reads them: basis
// becomes claims.legal_basis_claimed, and a subject named by personnummer
// is named by its pseudonym and birth date instead, with the agency's
// pseudonym key, so that the personnummer never leaves the gateway.
func (s *Server) claims(req *sendRequest) (map[string]any, error) {
	var claims map[string]any
	if len(req.Claims) == 0 || string(req.Claims) == "null" {
		return nil, errors.New("claims is missing: the policy metadata, as in policies/README.md (at least category)")
	}
	if err := json.Unmarshal(req.Claims, &claims); err != nil {
		return nil, errors.New("claims must be a JSON object (policies/README.md)")
	}
	if req.Basis != "" {
		if !ruleID.MatchString(req.Basis) {
			return nil, fmt.Errorf("basis must be a rule id such as R-CONCERN (policies/README.md)")
		}
		if old, ok := claims["legal_basis_claimed"]; ok && old != req.Basis {
			return nil, errors.New("basis and claims.legal_basis_claimed differ; give one")
		}
		claims["legal_basis_claimed"] = req.Basis
	}
	if err := s.pseudonymise(claims); err != nil {
		return nil, err
	}
	if ff, ok := claims["forwarded_from"]; ok {
		list, ok := ff.([]any)
		for _, x := range list {
			if id, _ := x.(string); !messageID.MatchString(id) {
				ok = false
			}
		}
		if !ok {
			return nil, errors.New("claims.forwarded_from must be a list of message ids (32 lowercase hex digits)")
		}
	}
	return claims, nil
}

// pseudonymise replaces subject.personnummer in v by the pseudonym and
// birth date.
func (s *Server) pseudonymise(v map[string]any) error {
	subj, ok := v["subject"].(map[string]any)
	if !ok {
		return nil
	}
	raw, ok := subj["personnummer"]
	if !ok {
		return nil
	}
	pnr, _ := raw.(string)
	p, err := pseudonym.Parse(pnr)
	if err != nil {
		return fmt.Errorf("subject.personnummer: %w", err)
	}
	if s.pkey == nil {
		return errors.New("subject.personnummer cannot be turned into a pseudonym: the agency's home has no pseudonym.key; give subject.pseudonym")
	}
	if old, ok := subj["pseudonym"]; ok && old != s.pkey.Of(p) {
		return errors.New("subject.pseudonym is not the pseudonym of subject.personnummer; give one of them")
	}
	if old, ok := subj["birth_date"]; ok && old != p.BirthDate() {
		return errors.New("subject.birth_date is not the birth date of subject.personnummer")
	}
	delete(subj, "personnummer")
	subj["pseudonym"] = s.pkey.Of(p)
	subj["birth_date"] = p.BirthDate()
	return nil
}

// forwardCheck refuses a forward of data that came with an obligation not
// to pass it on. The broker refuses it too; here it is never sent.
func (s *Server) forwardCheck(claims map[string]any) *Decision {
	list, _ := claims["forwarded_from"].([]any)
	var reasons, obligations []string
	for _, x := range list {
		id, _ := x.(string)
		d, err := s.box.Get(id)
		if errors.Is(err, inbox.ErrNotFound) {
			// Not received here: the broker decides on its own records.
			continue
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("message %s in this agency's inbox cannot be read, so its obligations cannot be checked: %v", id, err))
			continue
		}
		for _, o := range d.Decision.Obligations {
			switch o {
			case agency.ObligationDoNotForward:
				reasons = append(reasons, fmt.Sprintf("message %s was received with %q: data from a förundersökning must not be passed on (OSL 18 kap. 1 och 3 §§)", id, o))
			case agency.ObligationWithinConsentScope:
				reasons = append(reasons, fmt.Sprintf("message %s was received under a consent (%q), which covers only that disclosure (OSL 12 kap. 2-3 §§)", id, o))
			default:
				continue
			}
			if !slices.Contains(obligations, o) {
				obligations = append(obligations, o)
			}
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return &Decision{Allow: false, Outcome: decision.Rejected, Obligations: obligations, Reasons: reasons,
		ErrorCode: codeForwardNotAllowed, DecidedBy: "gateway"}
}

// send seals m, records it, publishes it and answers with its decision.
// keyName, when set, is the idempotency key it is sent under.
func (s *Server) send(w http.ResponseWriter, r *http.Request, m agency.Message, system, reqHash, keyName string) {
	raw, id, err := s.client.Seal(m)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if len(raw) > envelope.DefaultMaxSize {
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("the sealed message is %d bytes and the broker accepts at most %d; send less", len(raw), envelope.DefaultMaxSize))
		return
	}
	// The key first, then the record: a key whose record is missing names a
	// message that was never published, and is sealed anew on a retry.
	if keyName != "" {
		if err := s.store.putKey(keyName, keyRecord{MessageID: id, RequestSHA256: reqHash}); err != nil {
			writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
			return
		}
	}
	rec := &sentRecord{ID: id, System: system, RequestSHA256: reqHash, Envelope: raw, State: stateSealed, At: time.Now().UTC()}
	if err := s.store.put(rec); err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	if err := s.client.Publish(r.Context(), raw, id); err != nil {
		rec.State, rec.Envelope = stateFailed, nil
		if perr := s.store.put(rec); perr != nil {
			s.log.Error("recording a failed send", "id", id, "err", perr)
		}
		writeError(w, http.StatusServiceUnavailable, codeUnavailable,
			"the broker did not take the message, which was not sent; send it again later (with the same Idempotency-Key, if any): "+err.Error())
		return
	}
	rec.State = stateSent
	if err := s.store.put(rec); err != nil {
		s.log.Error("recording a sent message", "id", id, "err", err)
	}
	s.log.Info("sent", "system", system, "id", id, "to", m.To, "kind", m.Kind)
	s.await(rec)
	s.answer(w, r, rec)
}

// answer answers with the decision on the message rec records, waiting for
// it at most ReceiptWait; 202 when it has not arrived by then.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec *sentRecord) {
	if rec.State != stateDecided {
		done := s.await(rec)
		t := time.NewTimer(s.cfg.ReceiptWait)
		select {
		case <-done:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
		cur, err := s.store.get(rec.ID)
		if err != nil {
			writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
			return
		}
		rec = cur
	}
	if rec.State != stateDecided {
		writeJSONResponse(w, http.StatusAccepted, pendingResult{ID: rec.ID, State: stateSent,
			Message: "sent; the broker's decision has not arrived yet. Do not send it again as a new message: " +
				"GET /v1/messages/" + rec.ID + " or the receipt event gives the decision"})
		return
	}
	writeRaw(w, rec.Status, rec.Body)
}

// await makes sure the decision on rec is being awaited, publishing the
// envelope again first when it may not have reached the broker, and
// returns a channel closed once it is recorded.
func (s *Server) await(rec *sentRecord) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.waiters[rec.ID]; ok {
		return c
	}
	c := make(chan struct{})
	s.waiters[rec.ID] = c
	id, state, raw := rec.ID, rec.State, rec.Envelope
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.wait(id, state, raw) {
			close(c)
		}
		s.mu.Lock()
		delete(s.waiters, id)
		s.mu.Unlock()
	}()
	return c
}

// wait publishes the envelope again when its state is sealed, then waits
// for the receipt and records the decision. It reports whether it did,
// before the server stopped.
func (s *Server) wait(id, state string, raw []byte) bool {
	pause := time.Second
	retry := func() bool {
		t := time.NewTimer(pause)
		defer t.Stop()
		pause = min(2*pause, 30*time.Second)
		select {
		case <-s.ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for state == stateSealed {
		// The same envelope, the same id: the broker takes it once.
		err := s.client.Publish(s.ctx, raw, id)
		if err == nil {
			state = stateSent
			if rec, gerr := s.store.get(id); gerr == nil && rec.State == stateSealed {
				rec.State = stateSent
				_ = s.store.put(rec)
			}
			break
		}
		s.log.Warn("publishing a message again", "id", id, "err", err)
		if !retry() {
			return false
		}
	}
	for {
		rcpt, err := s.client.Receipt(s.ctx, id)
		if rcpt != nil {
			s.decided(id, rcpt)
			return true
		}
		if s.ctx.Err() != nil {
			return false
		}
		s.log.Warn("waiting for a decision", "id", id, "err", err)
		if !retry() {
			return false
		}
	}
}

// decided records the broker's decision on message id as the answer every
// retry gets, and tells the calling systems.
func (s *Server) decided(id string, r *decision.Record) {
	d := decisionOf(r)
	res := sendResult{ID: id, Receipt: r, Decision: &d}
	status := http.StatusCreated
	if !r.Allowed() {
		status = http.StatusUnprocessableEntity
	}
	body, err := json.Marshal(res)
	if err != nil {
		s.log.Error("encoding a decision", "id", id, "err", err)
		return
	}
	rec, err := s.store.get(id)
	if err != nil {
		rec = &sentRecord{ID: id, At: time.Now().UTC()}
	}
	rec.State, rec.Status, rec.Body, rec.Envelope = stateDecided, status, body, nil
	if err := s.store.put(rec); err != nil {
		s.log.Error("recording a decision", "id", id, "err", err)
	}
	e := s.hub.publish(Event{Type: EventReceipt, ID: id, To: r.Recipient, Kind: r.Kind, Allow: r.Allowed(),
		Rule: r.Rule, Obligations: r.Obligations, ErrorCode: r.ErrorCode})
	s.log.Info("decided", e.logAttrs()...)
}

// messageState is the answer of GET /v1/messages/{id}.
type messageState struct {
	ID     string          `json:"id"`
	State  string          `json:"state"`
	Status int             `json:"status,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// getMessage tells a calling system what became of a message it sent.
func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := s.store.get(id)
	if err != nil || rec.System != systemOf(r.Context()) {
		if err != nil && !isNotExist(err) {
			writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
			return
		}
		writeError(w, http.StatusNotFound, codeNotFound, "no message "+id+" was sent through this gateway by this system")
		return
	}
	out := messageState{ID: rec.ID, State: rec.State}
	if rec.State == stateDecided {
		out.Status, out.Result = rec.Status, rec.Body
	}
	writeJSONResponse(w, http.StatusOK, out)
}
