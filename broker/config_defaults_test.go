package broker

import (
	"crypto/ed25519"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
)

// complete returns a Config with every required field set and every field
// with a default left zero. The values are never used, only checked for.
func complete(t *testing.T) Config {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		NATS: &nats.Conn{}, Directory: &directory.Source{}, Policy: &policy.Engine{}, Audit: &audit.Log{},
		SigningKey: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), Identity: id,
	}
}

func TestConfigValidateDoesNotChangeIt(t *testing.T) {
	c := complete(t)
	if err := c.validate(); err != nil {
		t.Fatalf("validate a complete Config: %v", err)
	}
	if c.Workers != 0 || c.MaxEnvelope != 0 || c.ClockSkew != 0 || c.Replicas != 0 || c.Logger != nil || c.Now != nil {
		t.Errorf("validate filled in defaults: %+v", c)
	}
	var empty Config
	if err := empty.validate(); err == nil {
		t.Error("validate accepted a Config without its required fields")
	}
	if empty.Workers != 0 || empty.Logger != nil || empty.Now != nil {
		t.Errorf("validate changed a Config it refused: %+v", empty)
	}
}

func TestConfigWithDefaults(t *testing.T) {
	c := complete(t)
	d := c.withDefaults()
	if d.Workers != defaults.Workers() || d.MaxEnvelope != envelope.DefaultMaxSize || d.ClockSkew != defaults.ClockSkew ||
		d.Replicas != defaults.Replicas || d.Logger == nil || d.Now == nil {
		t.Errorf("withDefaults left a default unset: %+v", d)
	}
	if c.Workers != 0 || c.Logger != nil {
		t.Error("withDefaults changed its receiver")
	}
	if err := d.validate(); err != nil {
		t.Errorf("validate after withDefaults: %v", err)
	}

	set := complete(t)
	set.Workers, set.MaxEnvelope, set.ClockSkew, set.Replicas = 3, 1000, time.Minute, 5
	d = set.withDefaults()
	if d.Workers != 3 || d.MaxEnvelope != 1000 || d.ClockSkew != time.Minute || d.Replicas != 5 {
		t.Errorf("withDefaults replaced values that were set: %+v", d)
	}
}
