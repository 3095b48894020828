package metrics_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
)

// opsLabels are the labels the gauges of RegisterOps may carry: an agency's
// id, a witness's name (a key name, as note keys name their owner) and a
// policy revision (a hash of the policy files).
var opsLabels = map[string]map[string]*regexp.Regexp{
	metrics.OpsAuditRecords:       {},
	metrics.OpsCheckpointRecords:  {},
	metrics.OpsCheckpointTime:     {},
	metrics.OpsCosignedRecords:    {"witness": regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)},
	metrics.OpsCosignedTime:       {"witness": regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)},
	metrics.OpsAgencyConnected:    {"agency": agencyID},
	metrics.OpsAgencyLastActive:   {"agency": agencyID},
	metrics.OpsPolicyRevisionInfo: {"revision": regexp.MustCompile(`^[a-z0-9]{1,64}$`)},
}

func TestOps(t *testing.T) {
	m := metrics.New()
	checkpoint := time.Unix(1_790_000_000, 0)
	active := time.Unix(1_790_000_100, 500_000_000)
	state := metrics.Ops{AuditRecords: 7}
	if err := m.RegisterOps(func() metrics.Ops { return state }); err != nil {
		t.Fatal(err)
	}
	// Before the first checkpoint, with an external NATS: only the size.
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP sekretess_audit_records Records in the audit log, as far as this broker has read it.
# TYPE sekretess_audit_records gauge
sekretess_audit_records 7
`), metrics.OpsAuditRecords, metrics.OpsCheckpointTime, metrics.OpsAgencyConnected); err != nil {
		t.Error(err)
	}

	// Each gather reads the state anew.
	state = metrics.Ops{
		AuditRecords: 9, CheckpointRecords: 8, CheckpointTime: checkpoint,
		Cosignatures:   []metrics.Cosignature{{Witness: "jo-witness", Records: 8, Time: checkpoint}},
		Agencies:       []metrics.Agency{{ID: "rosengard-skola", Connected: true, LastActive: active}, {ID: "soc-malmo"}},
		PolicyRevision: "3f2a9c",
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP sekretess_agency_connected 1 while the agency has an open NATS connection to the embedded server, else 0.
# TYPE sekretess_agency_connected gauge
sekretess_agency_connected{agency="rosengard-skola"} 1
sekretess_agency_connected{agency="soc-malmo"} 0
# HELP sekretess_agency_last_active_timestamp_seconds Unix time the agency last sent or received a message over NATS; absent if never since the server started.
# TYPE sekretess_agency_last_active_timestamp_seconds gauge
sekretess_agency_last_active_timestamp_seconds{agency="rosengard-skola"} 1.7900001005e+09
# HELP sekretess_audit_checkpoint_records Records covered by the audit log's newest signed checkpoint; absent before the first.
# TYPE sekretess_audit_checkpoint_records gauge
sekretess_audit_checkpoint_records 8
# HELP sekretess_audit_checkpoint_timestamp_seconds Unix time the audit log's newest checkpoint was signed; absent before the first.
# TYPE sekretess_audit_checkpoint_timestamp_seconds gauge
sekretess_audit_checkpoint_timestamp_seconds 1.79e+09
# HELP sekretess_audit_cosigned_records Records covered by the newest checkpoint each witness cosigned.
# TYPE sekretess_audit_cosigned_records gauge
sekretess_audit_cosigned_records{witness="jo-witness"} 8
# HELP sekretess_audit_records Records in the audit log, as far as this broker has read it.
# TYPE sekretess_audit_records gauge
sekretess_audit_records 9
# HELP sekretess_policy_revision_info 1, labelled with the revision of the policy in force.
# TYPE sekretess_policy_revision_info gauge
sekretess_policy_revision_info{revision="3f2a9c"} 1
`), metrics.OpsAuditRecords, metrics.OpsCheckpointRecords, metrics.OpsCheckpointTime, metrics.OpsCosignedRecords,
		metrics.OpsAgencyConnected, metrics.OpsAgencyLastActive, metrics.OpsPolicyRevisionInfo); err != nil {
		t.Error(err)
	}

	// Every series carries only the fixed labels.
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range families {
		allowed, ok := opsLabels[f.GetName()]
		if !ok {
			continue
		}
		seen++
		if f.GetHelp() == "" {
			t.Errorf("%s has no help text", f.GetName())
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if re, ok := allowed[l.GetName()]; !ok || !re.MatchString(l.GetValue()) {
					t.Errorf("%s{%s=%q} is not a fixed label", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if seen != len(opsLabels) {
		t.Errorf("gathered %d of the %d ops metrics", seen, len(opsLabels))
	}
	// Registering twice is refused, not doubled.
	if err := m.RegisterOps(func() metrics.Ops { return state }); err == nil {
		t.Error("a second RegisterOps was accepted")
	}
}
