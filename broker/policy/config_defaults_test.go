package policy

import (
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var empty Config
	if err := empty.validate(); err == nil {
		t.Error("validate accepted a Config without Dir")
	}
	if empty.Timeout != 0 || empty.Logger != nil {
		t.Errorf("validate changed the Config: %+v", empty)
	}
	d := empty.withDefaults()
	if d.Timeout != defaults.PolicyTimeout || d.ProbeInterval != defaults.PolicyProbeInterval || d.Logger == nil {
		t.Errorf("withDefaults left a default unset: %+v", d)
	}
	if empty.Timeout != 0 || empty.Logger != nil {
		t.Error("withDefaults changed its receiver")
	}
	if set := (Config{Dir: "p", Timeout: time.Second}).withDefaults(); set.Timeout != time.Second {
		t.Errorf("withDefaults replaced a Timeout that was set: %v", set.Timeout)
	}
	if err := (Config{Dir: "p"}).validate(); err != nil {
		t.Errorf("validate a Config with Dir: %v", err)
	}
}
