package natsserver

import "testing"

func TestConfigDefaultsAndValidate(t *testing.T) {
	var empty Config
	if err := empty.validate(); err == nil {
		t.Error("validate accepted a Config without DataDir, Host and Directory")
	}
	if empty.Logger != nil {
		t.Error("validate changed the Config")
	}
	if d := empty.withDefaults(); d.Logger == nil {
		t.Error("withDefaults left Logger unset")
	}
	if empty.Logger != nil {
		t.Error("withDefaults changed its receiver")
	}
}
