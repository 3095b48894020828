package layout_test

import (
	"path/filepath"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/layout"
)

// The on-disk layout is a compatibility promise: existing data directories
// must keep working, so the paths are spelled out here, not derived.
func TestPaths(t *testing.T) {
	data := filepath.Join("srv", "data")
	for _, c := range []struct{ got, want string }{
		{layout.Directory(data), "srv/data/directory.yaml"},
		{layout.PseudonymKey(data), "srv/data/pseudonym.key"},
		{layout.BrokerKeys(data), "srv/data/broker"},
		{layout.AgencyKeys(data, "polis-syd"), "srv/data/agencies/polis-syd"},
		{layout.Inbox(data, "polis-syd"), "srv/data/agencies/polis-syd/inbox"},
		{layout.JetStream(data), "srv/data/jetstream"},
		{layout.OpsToken(data), "srv/data/broker/ops.token"},
		{layout.AgencyHomes(data), "srv/agencies"},
		{layout.AgencyHomes("data"), "agencies"},
		{layout.AgencyHomes("."), "../agencies"},
		{layout.AgencyHome("srv/agencies", "polis-syd"), "srv/agencies/polis-syd"},
		{layout.HomeInbox("srv/agencies/polis-syd"), "srv/agencies/polis-syd/inbox"},
		{layout.HomePseudonymKey("srv/agencies/polis-syd"), "srv/agencies/polis-syd/pseudonym.key"},
		{layout.PseudonymKey("srv/agencies"), "srv/agencies/pseudonym.key"},
	} {
		if want := filepath.FromSlash(c.want); c.got != want {
			t.Errorf("got %s, want %s", c.got, want)
		}
	}
}
