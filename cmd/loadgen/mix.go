package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// The agencies of the standard mix.
const (
	school = "skola"
	social = "soc"
	police = "polis"
)

// The kinds of traffic in the standard mix, one cycle of eight messages:
// three reports of concern (allowed), a disclosure of health data to the
// police (denied), a police request to the school and the rector's answer to
// it (sent once the request's receipt is back; the broker reads the request's
// record), a forward by social services of a report it received (sent after
// that report's receipt; the broker reads the source's record and its
// obligations), and a disclosure under a recorded consent (the broker reads
// the consent registry).
var cycle = []string{"concern", "concern", "concern", "denied", "request", "response", "forward", "consent"}

// follows names the kind a dependent kind answers, and its offset back in
// the cycle.
var follows = map[string]int{"response": 1, "forward": 4}

// msg is one sealed envelope of the mix.
type msg struct {
	kind, from string
	raw        []byte
	id         string
	parent     int // index of the message it must wait for, or -1
}

// world holds the agencies' clients and connections.
type world struct {
	clients map[string]*agency.Client
	conns   map[string]jetstream.JetStream
	// consentRef is the consent social services recorded for the mix.
	consentRef string
}

const (
	pseudonym = "elev-4711"
	birthDate = "2012-03-04"
)

func subject() *agency.Subject { return &agency.Subject{Pseudonym: pseudonym, BirthDate: birthDate} }

// recordConsent records the consent the mix discloses under.
func (w *world) recordConsent(ctx context.Context) error {
	at := time.Now().Add(-time.Hour).UTC()
	r := consent.Record{
		ID: "samtycke-loadgen", Subject: consent.Subject{Pseudonym: pseudonym, BirthDate: birthDate},
		Categories: []string{"case_details"}, Recipients: []string{school}, Purpose: "samordnat stöd i skolan",
		GivenBy: []consent.Giver{{Role: consent.RoleGuardian, By: "vårdnadshavare 1", At: at},
			{Role: consent.RoleGuardian, By: "vårdnadshavare 2", At: at}, {Role: consent.RoleChild, At: at}},
		GuardianCount:      2,
		MaturityAssessment: &consent.Judgement{By: "Handläggare Berg", At: at, Outcome: consent.MaturityChildConsentRequired},
		Documented:         consent.Documentation{How: "written", By: "Handläggare Berg", At: at},
		ValidFrom:          at,
	}
	ref, err := w.clients[social].RecordConsent(ctx, r)
	if err != nil {
		return fmt.Errorf("record the mix's consent: %w", err)
	}
	w.consentRef = ref
	return nil
}

// seal seals n messages of the mix with payloads cycling through sizes.
func (w *world) seal(n int, sizes []int) ([]msg, error) {
	out := make([]msg, n)
	for i := range out {
		kind := cycle[i%len(cycle)]
		payload := make([]byte, sizes[(i/len(cycle))%len(sizes)])
		m := msg{kind: kind, parent: -1}
		var am agency.Message
		switch kind {
		case "concern":
			m.from = school
			am = agency.Message{To: social, Kind: agency.KindConcernReport, Metadata: agency.Claims{
				Category: "concern", Purpose: "orosanmälan", Subject: subject()}}
		case "denied":
			m.from = school
			age := 13
			am = agency.Message{To: police, Kind: agency.KindDisclosure, Metadata: agency.Claims{
				Category: "health", Subject: &agency.Subject{Pseudonym: pseudonym, Age: &age}}}
		case "request":
			m.from = police
			am = agency.Message{To: school, Kind: agency.KindRequest, Metadata: agency.Claims{
				Category: "enrolment", Purpose: "utreda misshandel på fritiden", Subject: subject()}}
		case "response":
			m.from = school
			m.parent = i - follows[kind]
			am = agency.Message{To: police, Kind: agency.KindResponse, ReplyTo: out[m.parent].id, Metadata: agency.Claims{
				Category: "enrolment", SenderRole: "rector", Subject: subject(), Secret: agency.Bool(false)}}
		case "forward":
			m.from = social
			m.parent = i - follows[kind]
			am = agency.Message{To: school, Kind: agency.KindDisclosure, Metadata: agency.Claims{
				Category: "case_details", Purpose: "samordnat stöd i skolan", Subject: subject(),
				ForwardedFrom: []string{out[m.parent].id}}}
		case "consent":
			m.from = social
			am = agency.Message{To: school, Kind: agency.KindDisclosure, Metadata: agency.Claims{
				Category: "case_details", Purpose: "samordnat stöd i skolan", Subject: subject(), ConsentRef: w.consentRef}}
		}
		am.Payload = payload
		var err error
		if m.raw, m.id, err = w.clients[m.from].Seal(am); err != nil {
			return nil, fmt.Errorf("seal %s: %w", kind, err)
		}
		out[i] = m
	}
	return out, nil
}

// kindStats counts one kind's decisions.
type kindStats struct {
	Sent    int `json:"sent"`
	Allowed int `json:"allowed"`
	Denied  int `json:"denied"`
}

// runResult is one measurement of the pipeline.
type runResult struct {
	N         int                   `json:"n"`
	Elapsed   time.Duration         `json:"-"`
	MsgsPerS  float64               `json:"msgs_per_s"`
	Latency   latency               `json:"latency_ms"`
	Mix       map[string]*kindStats `json:"mix"`
	CPUPerMsg float64               `json:"cpu_ms_per_msg"`
	// ChildCPUPerMsg is the second broker replica's, when there is one.
	ChildCPUPerMsg float64 `json:"replica_cpu_ms_per_msg,omitempty"`
	Rate           float64 `json:"offered_rate,omitempty"`
}

type latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q * float64(len(ds)-1))
		return float64(ds[i]) / float64(time.Millisecond)
	}
	return latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1)}
}

// run publishes msgs through the broker and waits for every receipt. With
// rate zero it keeps window messages outstanding (closed loop); otherwise it
// starts messages on a fixed schedule of rate a second (open loop), and a
// message's latency counts from when it was due, so a stalled broker shows
// in the figures instead of slowing the generator down. A message that
// answers or forwards another is sent when the other's receipt is back.
func (w *world) run(ctx context.Context, msgs []msg, rate float64, window int, cpu func() time.Duration, childCPU func() time.Duration) (*runResult, error) {
	type pending struct {
		due time.Time
		i   int
	}
	var (
		mu       sync.Mutex
		inflight = map[string]pending{}
		lats     = make([]time.Duration, 0, len(msgs))
		mix      = map[string]*kindStats{}
		children = map[int][]int{}
		done     = make(chan struct{})
		errc     = make(chan error, 1)
		got      int
	)
	for i, m := range msgs {
		if m.parent >= 0 {
			children[m.parent] = append(children[m.parent], i)
		}
		if mix[m.kind] == nil {
			mix[m.kind] = &kindStats{}
		}
		mix[m.kind].Sent++
	}
	slots := make(chan struct{}, max(window, 1))
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	publish := func(i int, due time.Time) {
		m := msgs[i]
		mu.Lock()
		inflight[m.id] = pending{due: due, i: i}
		mu.Unlock()
		nm := nats.NewMsg(bus.In(m.from))
		nm.Data = m.raw
		if _, err := w.conns[m.from].PublishMsgAsync(nm, jetstream.WithMsgID(m.id)); err != nil {
			fail(fmt.Errorf("publish %s: %w", m.kind, err))
		}
	}
	receipt := func(jm jetstream.Msg) {
		_ = jm.Ack()
		var rec decision.Record
		if err := json.Unmarshal(jm.Data(), &rec); err != nil {
			fail(fmt.Errorf("receipt: %w", err))
			return
		}
		now := time.Now()
		mu.Lock()
		p, ok := inflight[rec.MessageID]
		if !ok {
			mu.Unlock()
			return
		}
		delete(inflight, rec.MessageID)
		lats = append(lats, now.Sub(p.due))
		k := mix[msgs[p.i].kind]
		if rec.Allowed() {
			k.Allowed++
		} else {
			k.Denied++
		}
		got++
		finished := got == len(msgs)
		kids := children[p.i]
		mu.Unlock()
		// A dependent message takes over its parent's slot.
		for j, c := range kids {
			if j > 0 && rate == 0 {
				slots <- struct{}{}
			}
			publish(c, now)
		}
		if len(kids) == 0 && rate == 0 {
			<-slots
		}
		if finished {
			close(done)
		}
	}
	var ccs []jetstream.ConsumeContext
	defer func() {
		for _, cc := range ccs {
			cc.Stop()
		}
	}()
	for _, id := range []string{school, social, police} {
		js := w.conns[id]
		rc, err := js.Consumer(ctx, bus.StreamReceipts, bus.ReceiptConsumer(id))
		if err != nil {
			return nil, err
		}
		cc, err := rc.Consume(receipt, jetstream.PullMaxMessages(512))
		if err != nil {
			return nil, err
		}
		ccs = append(ccs, cc)
		// Deliveries are taken and acknowledged unread, so that the
		// outbound stream never fills.
		ic, err := js.Consumer(ctx, bus.StreamOut, bus.InboxConsumer(id))
		if err != nil {
			return nil, err
		}
		if cc, err = ic.Consume(func(m jetstream.Msg) { _ = m.Ack() }, jetstream.PullMaxMessages(512)); err != nil {
			return nil, err
		}
		ccs = append(ccs, cc)
	}

	cpu0, child0 := cpu(), time.Duration(0)
	if childCPU != nil {
		child0 = childCPU()
	}
	start := time.Now()
	go func() {
		var interval time.Duration
		roots := 0
		for _, m := range msgs {
			if m.parent < 0 {
				roots++
			}
		}
		if rate > 0 {
			// Dependents come on their parents' receipts, so the roots are
			// paced for the whole mix to arrive at rate.
			interval = time.Duration(float64(time.Second) * float64(len(msgs)) / float64(roots) / rate)
		}
		k := 0
		for i, m := range msgs {
			if m.parent >= 0 {
				continue
			}
			var due time.Time
			if rate > 0 {
				due = start.Add(time.Duration(k) * interval)
				k++
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
			} else {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				due = time.Now()
			}
			publish(i, due)
		}
	}()
	select {
	case <-done:
	case err := <-errc:
		return nil, err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("only %d of %d receipts: %w", got, len(msgs), ctx.Err())
	}
	elapsed := time.Since(start)
	r := &runResult{N: len(msgs), Elapsed: elapsed, MsgsPerS: float64(len(msgs)) / elapsed.Seconds(),
		Mix: mix, Rate: rate}
	r.CPUPerMsg = float64(cpu()-cpu0) / float64(time.Millisecond) / float64(len(msgs))
	if childCPU != nil {
		r.ChildCPUPerMsg = float64(childCPU()-child0) / float64(time.Millisecond) / float64(len(msgs))
	}
	mu.Lock()
	r.Latency = percentiles(lats)
	mu.Unlock()
	return r, nil
}
