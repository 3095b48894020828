package natsserver_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
)

// record is one log record, flattened to text.
type record struct {
	level slog.Level
	text  string // message and every attribute
	attrs map[string]string
}

// recorder is a slog.Handler that keeps every record at or above its level.
type recorder struct {
	level slog.Level
	mu    sync.Mutex
	recs  []record
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *recorder) WithGroup(string) slog.Handler                { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	x := record{level: rec.Level, text: rec.Message, attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		x.attrs[a.Key] = a.Value.String()
		x.text += " " + a.Key + "=" + a.Value.String()
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, x)
	r.mu.Unlock()
	return nil
}

func (r *recorder) records() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.recs...)
}

// publishMarker starts a server logging to rec, publishes a message holding
// marker through JetStream as an agency, and stops the server.
func publishMarker(t *testing.T, cfg natsserver.Config, rec *recorder, marker string) {
	t.Helper()
	brokerP, police := newParty(t, "broker"), newParty(t, "polisen-syd")
	cfg.Directory = newDirectory(t, brokerP, police)
	cfg.DataDir, cfg.Logger, cfg.NoSync = t.TempDir(), slog.New(rec), true
	s := startWith(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	bc, err := connect(t, s.ClientURL(), brokerP, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: bus.StreamIn, Subjects: []string{bus.InPrefix + ">"},
		Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	ac, err := connect(t, s.ClientURL(), police, nil)
	if err != nil {
		t.Fatal(err)
	}
	ajs, err := jetstream.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ajs.Publish(ctx, bus.In(police.id), []byte(marker)); err != nil {
		t.Fatal(err)
	}
	bc.Close()
	ac.Close()
	s.Shutdown()
}

// TestServerLogReachesSlog: the embedded server's notices reach the broker's
// log at info, marked as the server's; its debug output and trace do not,
// unless asked for.
func TestServerLogReachesSlog(t *testing.T) {
	rec := &recorder{level: slog.LevelDebug}
	const marker = "payload-marker-7d1f"
	publishMarker(t, natsserver.Config{}, rec, marker)
	var notices int
	for _, r := range rec.records() {
		if strings.Contains(r.text, marker) {
			t.Errorf("the log quotes a message's bytes: %s", r.text)
		}
		if r.attrs["source"] != "nats-server" {
			continue
		}
		if r.attrs["trace"] == "true" {
			t.Errorf("trace record without Config.Trace: %s", r.text)
		}
		if r.level == slog.LevelInfo {
			notices++
		}
	}
	if notices == 0 {
		t.Fatalf("no notice of the server at info; records: %v", rec.records())
	}
	var ready bool
	for _, r := range rec.records() {
		ready = ready || (r.attrs["source"] == "nats-server" && strings.Contains(r.text, "Server is ready"))
	}
	if !ready {
		t.Error(`the server's "Server is ready" notice is not in the log`)
	}
}

// TestServerTraceWithoutPayloads: with Config.Trace the protocol trace is
// logged at debug, and still never the bytes of a message.
func TestServerTraceWithoutPayloads(t *testing.T) {
	rec := &recorder{level: slog.LevelDebug}
	const marker = "payload-marker-9c2e"
	publishMarker(t, natsserver.Config{Debug: true, Trace: true}, rec, marker)
	var traced bool
	for _, r := range rec.records() {
		if strings.Contains(r.text, marker) || strings.Contains(r.text, "MSG_PAYLOAD") {
			t.Errorf("the trace quotes a message's bytes: %s", r.text)
		}
		if r.attrs["trace"] == "true" {
			traced = true
			if r.level != slog.LevelDebug {
				t.Errorf("trace record at %v, want debug: %s", r.level, r.text)
			}
		}
	}
	if !traced {
		t.Fatal("Config.Trace logged no trace record")
	}
}
