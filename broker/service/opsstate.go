package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
)

// maxWitnesses bounds the witnesses the dashboard and /metrics show: the
// auditor user may publish a cosignature under any name, and each name is a
// label value.
const maxWitnesses = 16

// witnessName is what a witness's name may look like to become a label
// value (note key names, as "brokerctl audit witness" publishes them).
var witnessName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// opsState reads the deployment's state for metrics.RegisterOps: the audit
// log's size and the agencies' connections from memory on every call, the
// checkpoints from JetStream at most once per defaults.OpsRefresh.
type opsState struct {
	s         *Service
	nats      *natsserver.Server // nil with an external NATS
	js        jetstream.JetStream
	verifiers note.Verifiers // every audit key the broker has had

	mu   sync.Mutex // guards the fields below, and one read at a time
	read time.Time  // when the checkpoints were last read
	cp   checkpoints
}

// checkpoints is what opsState last read from the checkpoint stream.
type checkpoints struct {
	records  int64
	at       time.Time // zero: no checkpoint yet
	cosigned []metrics.Cosignature
	err      error // why the last read failed; the values above are older
}

// ops returns the state now.
func (o *opsState) ops() metrics.Ops {
	s := o.s
	m := metrics.Ops{PolicyRevision: s.Policy.Revision()}
	if s.Audit != nil {
		m.AuditRecords, _ = s.Audit.Head()
	}
	cp := o.checkpoints()
	m.CheckpointRecords, m.CheckpointTime, m.Cosignatures = cp.records, cp.at, cp.cosigned
	if o.nats != nil {
		m.Agencies = o.agencies()
	}
	return m
}

// agencies joins the embedded server's connections to the directory's
// agencies by the nkey each logged in with. A connection of a key the
// directory no longer lists is not shown.
func (o *opsState) agencies() []metrics.Agency {
	d := o.s.Dir.Current()
	byKey := map[string]int{}
	out := make([]metrics.Agency, len(d.Agencies))
	for i := range d.Agencies {
		a := &d.Agencies[i]
		out[i].ID = a.ID
		if a.NATS.NKey != "" {
			byKey[a.NATS.NKey] = i
		}
		for _, k := range a.Keys {
			if k.NKey != "" {
				byKey[k.NKey] = i
			}
		}
	}
	clients, err := o.nats.Clients()
	if err != nil {
		o.s.cfg.Logger.Warn("ops: NATS connections unreadable", "err", err)
		return out
	}
	for _, c := range clients {
		i, ok := byKey[c.NKey]
		if !ok {
			continue
		}
		if c.Open {
			out[i].Connected = true
		}
		if c.LastActivity.After(out[i].LastActive) {
			out[i].LastActive = c.LastActivity
		}
	}
	return out
}

// checkpoints returns the checkpoint state, read again when older than
// defaults.OpsRefresh.
func (o *opsState) checkpoints() checkpoints {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.read.IsZero() && time.Since(o.read) < defaults.OpsRefresh {
		return o.cp
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaults.OpsRefresh)
	defer cancel()
	cp, err := o.readCheckpoints(ctx)
	o.read = time.Now()
	if err != nil {
		// Keep the last values, and say why they are old.
		o.cp.err = err
		return o.cp
	}
	o.cp = cp
	return o.cp
}

// readCheckpoints reads the newest signed checkpoint and each witness's
// newest cosignature from the checkpoint stream. Only checkpoints that the
// broker's audit keys signed count.
func (o *opsState) readCheckpoints(ctx context.Context) (checkpoints, error) {
	var cp checkpoints
	st, err := o.js.Stream(ctx, bus.StreamAuditCheckpoints)
	if err != nil {
		return cp, fmt.Errorf("ops: checkpoint stream: %w", err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, bus.AuditCheckpoint)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return cp, nil // no checkpoint yet, so no cosignature either
	case err != nil:
		return cp, fmt.Errorf("ops: newest checkpoint: %w", err)
	}
	c, _, err := audit.OpenCheckpoint(msg.Data, o.verifiers)
	if err != nil {
		return cp, fmt.Errorf("ops: newest checkpoint: %w", err)
	}
	cp.records, cp.at = c.Size, c.Time
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(bus.AuditCosignedPrefix+">"))
	if err != nil {
		return cp, fmt.Errorf("ops: cosignatures: %w", err)
	}
	var names []string
	for subj := range info.State.Subjects {
		if name := strings.TrimPrefix(subj, bus.AuditCosignedPrefix); witnessName.MatchString(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names[:min(len(names), maxWitnesses)] {
		m, err := st.GetLastMsgForSubject(ctx, bus.AuditCosignedPrefix+name)
		if err != nil {
			return cp, fmt.Errorf("ops: cosignature of %s: %w", name, err)
		}
		// The log's own signature must verify; the witness's key is the
		// auditors' to check ("brokerctl audit verify --witness").
		c, n, err := audit.OpenCheckpoint(m.Data, o.verifiers)
		if err != nil || len(n.UnverifiedSigs) == 0 {
			continue // not the log's checkpoint, or no other signature on it
		}
		cp.cosigned = append(cp.cosigned, metrics.Cosignature{Witness: name, Records: c.Size, Time: c.Time})
	}
	return cp, nil
}
