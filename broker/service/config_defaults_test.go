package service

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	var empty Config
	if err := empty.validate(); err == nil {
		t.Error("validate accepted a Config without DataDir")
	}
	if d := empty.withDefaults(); d.DirectoryPath != "" || d.AuditorsFile != "" {
		t.Errorf("withDefaults made paths without a DataDir: %+v", d)
	}

	c := Config{DataDir: "d"}
	if err := c.validate(); err != nil {
		t.Fatalf("validate a Config with DataDir: %v", err)
	}
	if c.DirectoryPath != "" || c.AuditorsFile != "" || c.NATSListen != "" || c.ReloadInterval != 0 || c.Logger != nil {
		t.Errorf("validate changed the Config: %+v", c)
	}
	d := c.withDefaults()
	if d.DirectoryPath != layout.Directory("d") || d.AuditorsFile != filepath.Join(layout.BrokerKeys("d"), keys.AuditorsFile) ||
		d.NATSListen != defaults.NATSListen || d.ReloadInterval != defaults.ReloadInterval || d.Logger == nil {
		t.Errorf("withDefaults left a default unset: %+v", d)
	}
	if c.DirectoryPath != "" || c.Logger != nil {
		t.Error("withDefaults changed its receiver")
	}

	set := Config{DataDir: "d", DirectoryPath: "x.yaml", AuditorsFile: "a.txt", NATSListen: "127.0.0.1:0", ReloadInterval: time.Hour}.withDefaults()
	if set.DirectoryPath != "x.yaml" || set.AuditorsFile != "a.txt" || set.NATSListen != "127.0.0.1:0" || set.ReloadInterval != time.Hour {
		t.Errorf("withDefaults replaced values that were set: %+v", set)
	}
}
