package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Event types.
const (
	// EventDelivery: a message was delivered to the agency and is in its
	// inbox (GET /v1/inbox/{id}).
	EventDelivery = "delivery"
	// EventReceipt: the broker decided a message the gateway sent.
	EventReceipt = "receipt"
)

// Event is what GET /v1/events streams and the webhook posts. It never
// holds a payload or a claim: a calling system reads the message itself
// from the inbox.
type Event struct {
	// Seq numbers the events, increasing also across restarts of the
	// gateway; SSE's id.
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	// ID is the message's id.
	ID   string `json:"id"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Allow, Rule, Obligations and ErrorCode summarise the decision.
	Allow       bool     `json:"allow"`
	Rule        string   `json:"rule,omitempty"`
	Obligations []string `json:"obligations,omitempty"`
	ErrorCode   string   `json:"error_code,omitempty"`
}

// hubKeep is how many recent events a reconnecting SSE client can resume
// from with Last-Event-ID.
const hubKeep = 256

// hub fans events out to the SSE streams and the webhook.
type hub struct {
	mu     sync.Mutex
	seq    uint64
	recent []Event
	subs   map[chan Event]struct{}
}

// newHub numbers events on from the clock in microseconds, so that the
// numbers keep increasing across restarts of the gateway and a client that
// resumes with a number from before a restart gets every event kept since.
func newHub() *hub {
	return &hub{subs: map[chan Event]struct{}{}, seq: uint64(time.Now().UnixMicro())}
}

// publish numbers e and hands it to every subscriber. A subscriber too slow
// to keep up loses the event and is told so by a gap in the ids; the inbox
// is the record that never loses anything.
func (h *hub) publish(e Event) Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	h.recent = append(h.recent, e)
	if len(h.recent) > hubKeep {
		h.recent = h.recent[len(h.recent)-hubKeep:]
	}
	for c := range h.subs {
		select {
		case c <- e:
		default:
		}
	}
	return e
}

// subscribe returns a channel of new events and a function that ends the
// subscription; with resume, also the events kept that came after seq after.
func (h *hub) subscribe(after uint64, resume bool) (<-chan Event, []Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan Event, 64)
	h.subs[c] = struct{}{}
	var backlog []Event
	if resume {
		for _, e := range h.recent {
			if e.Seq > after {
				backlog = append(backlog, e)
			}
		}
	}
	return c, backlog, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, c)
	}
}

// sseKeepAlive is how often an idle event stream gets a comment line, so
// that proxies and clients see the connection is alive.
const sseKeepAlive = 15 * time.Second

// serveEvents streams events as Server-Sent Events until the client goes.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, codeInternal, "this connection cannot stream events")
		return
	}
	var after uint64
	v := r.Header.Get("Last-Event-ID")
	if v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Last-Event-ID must be the number of an event this gateway sent")
			return
		}
		after = n
	}
	c, backlog, stop := s.hub.subscribe(after, v != "")
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A first comment, so that the client sees the stream is open.
	fmt.Fprint(w, ": sekretessbroker gateway events\n\n")
	fl.Flush()
	send := func(e Event) bool {
		b, _ := json.Marshal(e)
		_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b)
		fl.Flush()
		return err == nil
	}
	for _, e := range backlog {
		if !send(e) {
			return
		}
	}
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case e := <-c:
			if !send(e) {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// Webhook headers.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256>": the HMAC,
	// under the webhook secret, of the time, a dot and the body.
	HeaderSignature = "Sekretess-Signature"
	// HeaderEventType names the event type.
	HeaderEventType = "Sekretess-Event"
	// HeaderEventID is the event's Seq.
	HeaderEventID = "Sekretess-Event-Id"
)

// Sign returns the value of HeaderSignature for body sent at t under
// secret. A receiver recomputes it and compares in constant time, and
// refuses a time too far from its clock.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// webhookRetries is how often an event is offered to the webhook before it
// is given up (logged); the inbox still holds the message.
const webhookRetries = 8

// runWebhook posts every event to url until ctx is done, in order, each
// retried with a growing pause while the receiver fails.
func (s *Server) runWebhook(ctx context.Context, url string, secret []byte) {
	c, _, stop := s.hub.subscribe(0, false)
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		var e Event
		select {
		case <-ctx.Done():
			return
		case e = <-c:
		}
		body, _ := json.Marshal(e)
		pause := 500 * time.Millisecond
		for try := 1; ; try++ {
			err := postEvent(ctx, client, url, secret, e, body)
			if err == nil {
				break
			}
			if try == webhookRetries || ctx.Err() != nil {
				s.log.Warn("webhook: event given up; the message is in the inbox", "seq", e.Seq, "type", e.Type, "id", e.ID, "err", err)
				break
			}
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(2*pause, 30*time.Second)
		}
	}
}

func postEvent(ctx context.Context, client *http.Client, url string, secret []byte, e Event, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventType, e.Type)
	req.Header.Set(HeaderEventID, strconv.FormatUint(e.Seq, 10))
	req.Header.Set(HeaderSignature, Sign(secret, time.Now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

// logAttrs is the one place events are logged: ids, kinds and outcomes only.
func (e Event) logAttrs() []any {
	return []any{slog.String("type", e.Type), slog.String("id", e.ID), slog.String("kind", e.Kind), slog.Bool("allow", e.Allow), slog.String("rule", e.Rule)}
}
