package audit

import (
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var empty Config
	if err := empty.validate(); err == nil {
		t.Error("validate accepted a Config without JetStream and Signer")
	}
	if empty.Replicas != 0 || empty.CheckpointInterval != 0 || empty.Logger != nil || empty.Now != nil {
		t.Errorf("validate changed the Config: %+v", empty)
	}

	d := empty.withDefaults()
	if d.Replicas != defaults.Replicas || d.CheckpointInterval != defaults.CheckpointInterval || d.Logger == nil || d.Now == nil {
		t.Errorf("withDefaults left a default unset: %+v", d)
	}
	if empty.Replicas != 0 || empty.Logger != nil {
		t.Error("withDefaults changed its receiver")
	}

	set := Config{Replicas: 3, CheckpointInterval: time.Minute}.withDefaults()
	if set.Replicas != 3 || set.CheckpointInterval != time.Minute {
		t.Errorf("withDefaults replaced values that were set: %+v", set)
	}
}
