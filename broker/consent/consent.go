// Package consent is the consent registry: records of consents to disclose
// secret data (OSL 12 kap. 2-3 §§), kept in a replicated JetStream key-value
// bucket that the broker creates and reads at decision time.
//
// A record is stored under the key "<agency-id>.<consent-id>", where the
// agency is the one that collected the consent. NATS permissions let each
// agency write and read only its own keys (see package bus), so no agency can
// forge or overwrite a consent another agency recorded, and the broker refuses
// a record its own agency rewrote after recording it. The key is what a
// message cites as claims.consent_ref; the broker resolves it and gives the
// record to the policy as input.consent, in exactly the JSON shape of Record.
// A withdrawal also writes "<agency-id>.<consent-id>.withdrawn", which no
// later write can remove, so a withdrawn consent never comes back.
//
//	reg := consent.Bind(js) // an agency's connection; the broker calls Open
//	ref, err := reg.Put(ctx, "soc-malmo", rec)
//	...
//	_, err = reg.Withdraw(ctx, ref, time.Now())
package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

// Bucket is the key-value bucket of the registry.
const Bucket = bus.ConsentBucket

// Errors callers can test for with errors.Is.
var (
	// ErrNotFound: no consent is recorded under the reference.
	ErrNotFound = errors.New("consent: no such consent")
	// ErrExists: a consent with the same id was already recorded by the agency.
	ErrExists = errors.New("consent: a consent with this id already exists")
	// ErrInvalid: the record is incomplete or not a valid consent.
	ErrInvalid = errors.New("consent: invalid record")
	// ErrWithdrawn: the consent was already withdrawn.
	ErrWithdrawn = errors.New("consent: already withdrawn")
)

// Record is one consent, in the shape of input.consent in policies/README.md.
type Record struct {
	// ID is the registry key, "<agency-id>.<consent-id>"; Put sets it.
	ID      string  `json:"id"`
	Subject Subject `json:"subject"`
	// Categories are exactly the data categories consented to.
	Categories []string `json:"categories"`
	// Recipients are the agencies the data may go to.
	Recipients []string `json:"recipients"`
	// Discloser, if set, is the only agency that may disclose under it.
	Discloser string `json:"discloser,omitempty"`
	// Purpose is what the data may be used for; a message must state the same.
	Purpose string `json:"purpose"`
	// GivenBy lists every consent given: by each guardian, by the child, or
	// by the person (from 18).
	GivenBy []Giver `json:"given_by"`
	// GuardianCount is how many guardians must consent for a child (usually 2).
	GuardianCount int `json:"guardian_count,omitempty"`
	// MaturityAssessment is the official's documented judgement whether the
	// child's age and maturity require the child's own consent too (Q16):
	// outcome MaturityChildConsentRequired or MaturityChildConsentNotRequired.
	MaturityAssessment *Judgement `json:"maturity_assessment,omitempty"`
	// ChildAloneAssessment documents that a young person may consent alone.
	ChildAloneAssessment *Judgement `json:"child_alone_assessment,omitempty"`
	// Documented says how and by whom the consent was documented; an oral
	// consent counts once documented (Q17).
	Documented Documentation `json:"documented"`
	ValidFrom  time.Time     `json:"valid_from"`
	ValidUntil *time.Time    `json:"valid_until,omitempty"`
	// WithdrawnAt is when the consent was withdrawn; every message from then
	// on is decided without it (Q18).
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty"`
}

// Subject is the person the consent is about, by pseudonym only.
type Subject struct {
	Pseudonym string `json:"pseudonym"`
	// BirthDate (YYYY-MM-DD) decides whose consent is needed.
	BirthDate string `json:"birth_date,omitempty"`
	// Age is used when the birth date is not recorded.
	Age *int `json:"age,omitempty"`
}

// Outcomes of Record.MaturityAssessment.
const (
	MaturityChildConsentRequired    = "child_consent_required"
	MaturityChildConsentNotRequired = "child_consent_not_required"
)

// Roles of those who give consent.
const (
	RoleGuardian = "guardian"
	RoleChild    = "child"
	RolePerson   = "person"
)

// Giver is one consent given.
type Giver struct {
	Role string `json:"role"`
	// By tells the givers apart, e.g. "vårdnadshavare 1"; two guardians
	// consenting at the same time are otherwise one consent to the policy.
	By string    `json:"by,omitempty"`
	At time.Time `json:"at"`
}

// Documentation is how a consent was documented.
type Documentation struct {
	// How is "written", "oral" or "digital".
	How string    `json:"how"`
	By  string    `json:"by"`
	At  time.Time `json:"at"`
}

// Judgement is an official's documented judgement.
type Judgement struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
}

var localID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Ref returns the registry key of consent id recorded by agency.
func Ref(agency, id string) (string, error) {
	if !directory.ValidID(agency) {
		return "", fmt.Errorf("%w: agency id %q", ErrInvalid, agency)
	}
	if !localID.MatchString(id) {
		return "", fmt.Errorf("%w: consent id %q: use 1-64 characters of A-Z, a-z, 0-9, '_' and '-'", ErrInvalid, id)
	}
	return agency + "." + id, nil
}

// Owner returns the agency that recorded the consent ref names.
func Owner(ref string) (string, bool) {
	agency, id, ok := strings.Cut(ref, ".")
	return agency, ok && directory.ValidID(agency) && localID.MatchString(id)
}

// Validate reports everything that keeps r from being a consent the policy
// could accept as recorded: a consent must be specific about the data, the
// recipients and the purpose (a general waiver is invalid, Q17), say who gave
// it and when, and be documented. Whether it suffices for a given message is
// the policy's decision, at that message's time.
func (r *Record) Validate() error {
	var p []string
	if r.Subject.Pseudonym == "" {
		p = append(p, "subject.pseudonym is empty")
	}
	if r.Subject.BirthDate == "" && r.Subject.Age == nil {
		p = append(p, "subject needs birth_date or age: the age decides whose consent is needed")
	}
	if r.Subject.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, r.Subject.BirthDate); err != nil {
			p = append(p, "subject.birth_date is not YYYY-MM-DD")
		}
	}
	general := func(xs []string) bool {
		return slices.ContainsFunc(xs, func(x string) bool { return x == "*" || x == "all" || x == "any" })
	}
	if len(r.Categories) == 0 || general(r.Categories) {
		p = append(p, "categories must name the data (a general waiver is not a consent, Q17)")
	}
	if len(r.Recipients) == 0 || general(r.Recipients) {
		p = append(p, "recipients must name the agencies (a general waiver is not a consent, Q17)")
	}
	if strings.TrimSpace(r.Purpose) == "" {
		p = append(p, "purpose is empty")
	}
	if len(r.GivenBy) == 0 {
		p = append(p, "given_by is empty: record who consented and when")
	}
	for i, g := range r.GivenBy {
		if slices.ContainsFunc(r.GivenBy[:i], func(h Giver) bool { return h.Role == g.Role && h.By == g.By && h.At.Equal(g.At) }) {
			p = append(p, fmt.Sprintf("given_by lists the same %s consent twice: tell the givers apart with by", g.Role))
		}
		if g.Role != RoleGuardian && g.Role != RoleChild && g.Role != RolePerson {
			p = append(p, fmt.Sprintf("given_by role %q is not guardian, child or person", g.Role))
		}
		if g.At.IsZero() {
			p = append(p, "given_by: a consent without a time")
		}
	}
	switch r.Documented.How {
	case "written", "oral", "digital":
	default:
		p = append(p, "documented.how must be written, oral or digital")
	}
	if r.Documented.By == "" || r.Documented.At.IsZero() {
		p = append(p, "documented needs by and at")
	}
	if r.ValidFrom.IsZero() {
		p = append(p, "valid_from is missing")
	}
	if slices.ContainsFunc(r.GivenBy, func(g Giver) bool { return g.Role == RoleGuardian }) && r.GuardianCount < 1 {
		p = append(p, "guardian_count must say how many guardians must consent")
	}
	if m := r.MaturityAssessment; m != nil {
		if strings.TrimSpace(m.By) == "" || m.At.IsZero() {
			p = append(p, "maturity_assessment needs by and at: who judged the child's maturity, and when")
		}
		if m.Outcome != MaturityChildConsentRequired && m.Outcome != MaturityChildConsentNotRequired {
			p = append(p, fmt.Sprintf("maturity_assessment outcome must be %s or %s", MaturityChildConsentRequired, MaturityChildConsentNotRequired))
		}
	}
	if r.ValidUntil != nil && r.ValidUntil.Before(r.ValidFrom) {
		p = append(p, "valid_until is before valid_from")
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(p, "; "))
	}
	return nil
}

// Registry is the consent bucket seen by one connection: the broker sees
// every record, an agency only its own. It reads with direct gets and writes
// with publishes that name the expected revision, which are the only calls
// an agency's NATS permissions allow: none of them can list the bucket.
type Registry struct {
	js jetstream.JetStream
	// stream is the bucket's stream, which only the broker may inspect; nil
	// for an agency's registry.
	stream jetstream.Stream
}

// Open creates or updates the registry bucket with the given number of
// replicas (zero means defaults.Replicas) and limits (zero fields take limits.Default's Consent) and returns
// it. The broker calls it at start.
func Open(ctx context.Context, js jetstream.JetStream, replicas int, lim limits.Stream) (*Registry, error) {
	replicas = defaults.ReplicaCount(replicas)
	lim = lim.Or(limits.Default(0).Consent)
	s, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      Bucket,
			Description: "Consent records (OSL 12 kap.), keyed <agency-id>.<consent-id>.",
			// Earlier revisions show what a consent said before it was withdrawn.
			History: 16, Storage: jetstream.FileStorage, Replicas: replicas,
		})
		if err == nil || errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Made now, by this broker or another starting at the same
			// moment: the update below brings it to this configuration.
			s, err = js.Stream(ctx, stream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("consent: bucket %s: %w", Bucket, err)
	}
	// A key-value bucket allows roll-ups, which an agency could publish to
	// its own key to erase a consent's history ("sub") or every agency's
	// consents ("all"). The registry never purges: refuse them. An existing
	// bucket is updated in place, so roll-ups are never allowed again.
	// Its limits are set here too: full, the bucket refuses new records.
	cfg := s.CachedInfo().Config
	want := cfg
	want.AllowRollup, want.Replicas = false, replicas
	history := want.MaxMsgsPerSubject
	lim.Apply(&want, false)
	want.MaxMsgsPerSubject = history
	if !reflect.DeepEqual(want, cfg) {
		if s, err = js.UpdateStream(ctx, want); err != nil {
			return nil, fmt.Errorf("consent: bucket %s: %w", Bucket, err)
		}
	}
	return &Registry{js: js, stream: s}, nil
}

// Bind returns the registry the broker created, for an agency's connection.
// It makes no call: an agency may not read the bucket's stream information,
// which would list every agency's consent ids.
func Bind(js jetstream.JetStream) *Registry { return &Registry{js: js} }

const (
	stream     = "KV_" + Bucket
	subjPrefix = "$KV." + Bucket + "."
)

// Put records a new consent, collected by agency, under the consent id r.ID.
// It sets r.ID to the registry key and returns that key: the reference
// messages cite as claims.consent_ref. An existing consent is never
// overwritten: withdraw it and record a new one.
func (g *Registry) Put(ctx context.Context, agency string, r Record) (string, error) {
	ref, err := Ref(agency, r.ID)
	if err != nil {
		return "", err
	}
	r.ID = ref
	r.WithdrawnAt = nil
	if err := r.Validate(); err != nil {
		return "", err
	}
	if err := g.write(ctx, ref, &r, 0); err != nil {
		if errors.Is(err, errConflict) {
			return "", fmt.Errorf("%w: %s", ErrExists, ref)
		}
		return "", err
	}
	return ref, nil
}

var errConflict = errors.New("consent: changed meanwhile")

// write stores r under ref if the key's last revision is rev (0: none).
func (g *Registry) write(ctx context.Context, ref string, r *Record, rev uint64) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("consent: %w", err)
	}
	_, err = g.js.Publish(ctx, subjPrefix+ref, b, jetstream.WithExpectLastSequencePerSubject(rev))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return fmt.Errorf("%w: %w", errConflict, err)
	}
	if err != nil {
		return fmt.Errorf("consent: record %s: %w", ref, err)
	}
	return nil
}

// Get returns the consent recorded under ref.
func (g *Registry) Get(ctx context.Context, ref string) (*Record, error) {
	r, _, err := g.get(ctx, ref)
	return r, err
}

func (g *Registry) get(ctx context.Context, ref string) (*Record, uint64, error) {
	b, rev, err := g.raw(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, 0, fmt.Errorf("%w: %s does not decode: %v", ErrInvalid, ref, err)
	}
	return &r, rev, nil
}

// raw reads the last revision of ref.
func (g *Registry) raw(ctx context.Context, ref string) ([]byte, uint64, error) {
	if _, ok := Owner(ref); !ok {
		return nil, 0, fmt.Errorf("%w: %q is not a consent reference (<agency-id>.<consent-id>)", ErrNotFound, ref)
	}
	m, err := g.last(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	if m == nil {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	if m.Header.Get(jetstream.MsgRollup) != "" {
		// Written with a roll-up, which erased the key's history.
		return nil, 0, fmt.Errorf("%w: %s was rewritten with a roll-up that erased its history", ErrInvalid, ref)
	}
	if op := m.Header.Get("KV-Operation"); op != "" {
		// Deleted or purged: no consent.
		return nil, 0, fmt.Errorf("%w: %s (%s)", ErrNotFound, ref, strings.ToLower(op))
	}
	rev, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("consent: read %s: no revision in the answer", ref)
	}
	return m.Data, rev, nil
}

// last returns the last message stored under key, delete markers included,
// or nil if there never was one. It is a direct get by subject, whose subject
// names the key, so that NATS permissions can scope reads to an agency's own
// keys.
func (g *Registry) last(ctx context.Context, key string) (*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	m, err := g.js.Conn().RequestWithContext(ctx, "$JS.API.DIRECT.GET."+stream+"."+subjPrefix+key, nil)
	if err != nil {
		return nil, fmt.Errorf("consent: read %s: %w", key, err)
	}
	switch st := m.Header.Get("Status"); {
	case st == "404" && len(m.Data) == 0:
		return nil, nil
	case st != "":
		return nil, fmt.Errorf("consent: read %s: status %s %s", key, st, m.Header.Get("Description"))
	}
	return m, nil
}

// withdrawalKey marks a withdrawal for good: whatever an agency later writes
// under it, even a delete marker, is a message on that key, and agencies
// cannot purge the stream. Its consent id part contains a dot, so it is never
// a consent reference itself.
func withdrawalKey(ref string) string { return ref + ".withdrawn" }

// Resolve returns the record under ref as the policy's input.consent: the
// stored JSON, verbatim, decoded into plain values. A record whose id is not
// its key is treated as absent, so a record copied under another key is never
// cited in its place, and so is a record rewritten after it was recorded
// other than by Withdraw. Only the broker's registry (Open) resolves.
func (g *Registry) Resolve(ctx context.Context, ref string) (map[string]any, error) {
	b, _, err := g.raw(ctx, ref)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s is not a JSON object", ErrInvalid, ref)
	}
	if id, _ := m["id"].(string); id != ref {
		return nil, fmt.Errorf("%w: %s holds a record with id %q", ErrInvalid, ref, id)
	}
	if err := g.unchanged(ctx, ref, m); err != nil {
		return nil, err
	}
	if _, withdrawn := m["withdrawn_at"]; !withdrawn {
		// A withdrawal cannot be undone by rewriting the record.
		mark, err := g.last(ctx, withdrawalKey(ref))
		if err != nil {
			return nil, err
		}
		if mark != nil {
			return nil, fmt.Errorf("%w: %s was withdrawn but the record no longer says so", ErrInvalid, ref)
		}
	}
	return m, nil
}

// unchanged checks that cur, the record now under ref, says what the consent
// said when it was recorded. An agency may write its own keys, so nothing
// but this check stops it from widening a consent (another category, another
// recipient) after the guardians gave it. Put writes a key once and Withdraw
// once more, so a key with more than two revisions was rewritten; since the
// bucket keeps sixteen, one with two or fewer still holds its first.
func (g *Registry) unchanged(ctx context.Context, ref string, cur map[string]any) error {
	s := g.stream
	if s == nil {
		return errors.New("consent: only the broker's registry (Open) can resolve a consent")
	}
	subj := subjPrefix + ref
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return fmt.Errorf("consent: read %s: %w", ref, err)
	}
	switch n := info.State.Subjects[subj]; {
	case n <= 1:
		return nil
	case n > 2:
		return fmt.Errorf("%w: %s was rewritten after it was recorded (%d revisions); a consent cannot be changed: withdraw it and record a new one", ErrInvalid, ref, n)
	}
	first, err := s.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
	if err != nil {
		return fmt.Errorf("consent: read %s: %w", ref, err)
	}
	if first.Header.Get(jetstream.MsgRollup) != "" {
		return fmt.Errorf("%w: %s was rewritten with a roll-up that erased its history", ErrInvalid, ref)
	}
	var orig map[string]any
	if err := json.Unmarshal(first.Data, &orig); err != nil || orig == nil {
		return fmt.Errorf("%w: the first revision of %s is not a JSON object", ErrInvalid, ref)
	}
	if _, ok := orig["withdrawn_at"]; ok {
		return fmt.Errorf("%w: %s was recorded as already withdrawn", ErrInvalid, ref)
	}
	// The second revision may only add the withdrawal. cur may also still be
	// the first one, read just before a withdrawal was written.
	cur = maps.Clone(cur)
	delete(cur, "withdrawn_at")
	if !reflect.DeepEqual(orig, cur) {
		return fmt.Errorf("%w: %s was changed after it was recorded; a consent cannot be changed: withdraw it and record a new one", ErrInvalid, ref)
	}
	return nil
}

// Withdraw records that the consent under ref was withdrawn at the given
// time. Every message dated from then on is decided without it, and the
// withdrawal cannot be undone: record a new consent instead.
func (g *Registry) Withdraw(ctx context.Context, ref string, at time.Time) (*Record, error) {
	r, rev, err := g.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if r.WithdrawnAt != nil {
		return r, fmt.Errorf("%w: %s at %s", ErrWithdrawn, ref, r.WithdrawnAt.Format(time.RFC3339))
	}
	at = at.UTC()
	r.WithdrawnAt = &at
	mark, err := json.Marshal(map[string]any{"withdrawn_at": at})
	if err != nil {
		return nil, fmt.Errorf("consent: %w", err)
	}
	if _, err := g.js.Publish(ctx, subjPrefix+withdrawalKey(ref), mark); err != nil {
		return nil, fmt.Errorf("consent: withdraw %s: %w", ref, err)
	}
	// Write only over the revision read, so a concurrent change is not lost.
	if err := g.write(ctx, ref, r, rev); err != nil {
		return nil, fmt.Errorf("consent: withdraw %s: %w", ref, err)
	}
	return r, nil
}
