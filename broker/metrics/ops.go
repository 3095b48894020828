package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ops is the state of a deployment that the broker reads when it is asked
// rather than counts as it goes: the audit log's size and checkpoints, the
// agencies' connections and the policy's revision. Every value is a count, a
// time, an agency id, a witness's name or a policy revision: nothing that
// names a person or a message.
type Ops struct {
	// AuditRecords is the number of records in the audit log, as far as
	// this broker has read it.
	AuditRecords int64
	// CheckpointRecords and CheckpointTime describe the newest signed
	// checkpoint of the audit log; a zero time means there is none yet.
	CheckpointRecords int64
	CheckpointTime    time.Time
	// Cosignatures are the witnesses' latest cosigned checkpoints.
	Cosignatures []Cosignature
	// Agencies are the directory's agencies with their NATS connections;
	// nil when the broker cannot see the connections (an external NATS).
	Agencies []Agency
	// PolicyRevision is the revision of the policy in force.
	PolicyRevision string
}

// Cosignature is a witness's latest cosigned checkpoint.
type Cosignature struct {
	// Witness is the witness's name, as it published its cosignature.
	Witness string
	// Records and Time are the size and time of the checkpoint it cosigned.
	Records int64
	Time    time.Time
}

// Agency is one agency's connection state.
type Agency struct {
	// ID is the agency's directory id.
	ID string
	// Connected is true while the agency has an open NATS connection.
	Connected bool
	// LastActive is when the agency last sent or received a message over
	// NATS, as far as the server remembers; zero if never.
	LastActive time.Time
}

// Names of the metrics RegisterOps adds.
const (
	OpsAuditRecords       = "sekretess_audit_records"
	OpsCheckpointRecords  = "sekretess_audit_checkpoint_records"
	OpsCheckpointTime     = "sekretess_audit_checkpoint_timestamp_seconds"
	OpsCosignedRecords    = "sekretess_audit_cosigned_records"
	OpsCosignedTime       = "sekretess_audit_cosigned_timestamp_seconds"
	OpsAgencyConnected    = "sekretess_agency_connected"
	OpsAgencyLastActive   = "sekretess_agency_last_active_timestamp_seconds"
	OpsPolicyRevisionInfo = "sekretess_policy_revision_info"
)

// opsCollector turns what read returns into gauges each time the registry
// is gathered, so /metrics and the dashboard see the same values.
type opsCollector struct {
	read func() Ops

	auditRecords, checkpointRecords, checkpointTime *prometheus.Desc
	cosignedRecords, cosignedTime                   *prometheus.Desc
	connected, lastActive                           *prometheus.Desc
	revision                                        *prometheus.Desc
}

// RegisterOps adds the gauges of the deployment's state to the registry:
// the audit log's size, its newest checkpoint's size and time, each
// witness's cosigned checkpoint, each agency's connection and last activity,
// and the policy's revision. read is called on every gather (a scrape of
// /metrics or a look at the dashboard) and must return quickly: it should
// serve what it read a moment ago rather than wait on the network.
func (m *Metrics) RegisterOps(read func() Ops) error {
	c := &opsCollector{
		read: read,
		auditRecords: prometheus.NewDesc(OpsAuditRecords,
			"Records in the audit log, as far as this broker has read it.", nil, nil),
		checkpointRecords: prometheus.NewDesc(OpsCheckpointRecords,
			"Records covered by the audit log's newest signed checkpoint; absent before the first.", nil, nil),
		checkpointTime: prometheus.NewDesc(OpsCheckpointTime,
			"Unix time the audit log's newest checkpoint was signed; absent before the first.", nil, nil),
		cosignedRecords: prometheus.NewDesc(OpsCosignedRecords,
			"Records covered by the newest checkpoint each witness cosigned.", []string{"witness"}, nil),
		cosignedTime: prometheus.NewDesc(OpsCosignedTime,
			"Unix time of the newest checkpoint each witness cosigned.", []string{"witness"}, nil),
		connected: prometheus.NewDesc(OpsAgencyConnected,
			"1 while the agency has an open NATS connection to the embedded server, else 0.", []string{"agency"}, nil),
		lastActive: prometheus.NewDesc(OpsAgencyLastActive,
			"Unix time the agency last sent or received a message over NATS; absent if never since the server started.", []string{"agency"}, nil),
		revision: prometheus.NewDesc(OpsPolicyRevisionInfo,
			"1, labelled with the revision of the policy in force.", []string{"revision"}, nil),
	}
	return m.Registry.Register(c)
}

// Describe sends every metric's description.
func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.auditRecords, c.checkpointRecords, c.checkpointTime,
		c.cosignedRecords, c.cosignedTime, c.connected, c.lastActive, c.revision} {
		ch <- d
	}
}

// Collect sends the values read returns now.
func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	o := c.read()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.auditRecords, float64(o.AuditRecords))
	if !o.CheckpointTime.IsZero() {
		gauge(c.checkpointRecords, float64(o.CheckpointRecords))
		gauge(c.checkpointTime, unix(o.CheckpointTime))
	}
	for _, w := range o.Cosignatures {
		gauge(c.cosignedRecords, float64(w.Records), w.Witness)
		gauge(c.cosignedTime, unix(w.Time), w.Witness)
	}
	for _, a := range o.Agencies {
		v := 0.0
		if a.Connected {
			v = 1
		}
		gauge(c.connected, v, a.ID)
		if !a.LastActive.IsZero() {
			gauge(c.lastActive, unix(a.LastActive), a.ID)
		}
	}
	if o.PolicyRevision != "" {
		gauge(c.revision, 1, o.PolicyRevision)
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
