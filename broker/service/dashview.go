package service

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
)

// opsView is what the dashboard shows, and the JSON of /ops/api/summary.
// Every number comes from the metrics registry /metrics serves, gathered
// once per view, so that the page and a scrape agree; names and kinds of
// agencies come from the directory.
type opsView struct {
	At time.Time `json:"at"`
	// Problem is why the broker cannot decide messages correctly (the
	// health check's error), empty when it can.
	Problem    string         `json:"problem,omitempty"`
	Policy     policyView     `json:"policy"`
	Decisions  decisionsView  `json:"decisions"`
	Rules      []ruleView     `json:"rules"`
	Rejections []codeView     `json:"rejections"`
	Latency    []latencyView  `json:"latency"`
	Audit      auditView      `json:"audit"`
	Agencies   []agencyView   `json:"agencies"`
	Security   []securityView `json:"security_events"`
	// Connections is false when the broker cannot see the agencies'
	// connections (an external NATS).
	Connections bool      `json:"connections_known"`
	Chart       chartView `json:"chart"`
}

type policyView struct {
	Revision string `json:"revision"`
	Healthy  bool   `json:"healthy"`
}

// decisionsView holds totals since the broker started, and rates per second
// over the last few seconds (nil until two samples exist).
type decisionsView struct {
	Allowed      float64  `json:"allowed_total"`
	Rejected     float64  `json:"rejected_total"`
	AllowedRate  *float64 `json:"allowed_per_second,omitempty"`
	RejectedRate *float64 `json:"rejected_per_second,omitempty"`
	InFlight     float64  `json:"in_flight"`
	Redeliveries float64  `json:"redeliveries_total"`
}

// ruleView counts the decisions of one rule ("none" for a decision no rule
// allowed).
type ruleView struct {
	Rule      string  `json:"rule"`
	Delivered float64 `json:"delivered"`
	Rejected  float64 `json:"rejected"`
}

// codeView counts rejections of one code ("policy" for a policy denial),
// with the agencies that sent them.
type codeView struct {
	Code    string        `json:"code"`
	Meaning string        `json:"meaning,omitempty"`
	Count   float64       `json:"count"`
	Senders []senderCount `json:"senders"`
	Share   float64       `json:"-"` // of all rejections, 0…1
}

type senderCount struct {
	Agency string  `json:"agency"`
	Count  float64 `json:"count"`
}

// latencyView holds one stage's percentiles in milliseconds over Window
// (the last defaults.OpsWindow, or as much of it as the dashboard has
// sampled, as "4m58s"), or "since start" when nothing was observed within it.
type latencyView struct {
	Stage   string   `json:"stage"`
	Metric  string   `json:"metric"`
	Window  string   `json:"window"`
	Count   uint64   `json:"count"`
	P50     *float64 `json:"p50_ms,omitempty"`
	P90     *float64 `json:"p90_ms,omitempty"`
	P99     *float64 `json:"p99_ms,omitempty"`
	Swedish string   `json:"-"`
}

type auditView struct {
	Records           float64 `json:"records"`
	CheckpointRecords float64 `json:"checkpoint_records"`
	// CheckpointAt is zero before the first checkpoint.
	CheckpointAt   time.Time    `json:"checkpoint_at,omitzero"`
	Uncovered      float64      `json:"records_after_checkpoint"`
	Cosignatures   []cosignView `json:"cosignatures"`
	Blocked        bool         `json:"blocked"`
	AppendFailures float64      `json:"append_failures_total"`
}

type cosignView struct {
	Witness string    `json:"witness"`
	Records float64   `json:"records"`
	At      time.Time `json:"checkpoint_at"`
	Behind  float64   `json:"records_behind"`
}

type agencyView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Connected  bool      `json:"connected"`
	LastActive time.Time `json:"last_active,omitzero"`
	Rejections float64   `json:"rejections"`
	Events     float64   `json:"security_events"`
}

type securityView struct {
	Kind   string  `json:"kind"`
	Agency string  `json:"agency"`
	Count  float64 `json:"count"`
}

// Names of the metrics the view reads (package metrics defines them).
const (
	mDecisions     = "sekretess_decisions_total"
	mRejections    = "sekretess_rejections_total"
	mSecurity      = "sekretess_security_events_total"
	mRedeliveries  = "sekretess_redeliveries_total"
	mPipeline      = "sekretess_pipeline_seconds"
	mPolicy        = "sekretess_policy_eval_seconds"
	mAuditAppend   = "sekretess_audit_append_seconds"
	mAuditBlocked  = "sekretess_audit_blocked"
	mAuditFailures = "sekretess_audit_append_failures_total"
	mInFlight      = "sekretess_in_flight"
	mPolicyHealthy = "sekretess_policy_healthy"
)

// latencyStages are the histograms the page shows percentiles of.
var latencyStages = []struct{ metric, stage, swedish string }{
	{mPolicy, "policy evaluation", "Policyutvärdering"},
	{mPipeline, "pipeline, receipt to ack", "Hela flödet, mottagning till kvittens"},
	{mAuditAppend, "audit append", "Skrivning till granskningsloggen"},
}

// codeMeanings says in Swedish what each rejection code means for the
// operator (package errcode holds the codes and their English meaning).
var codeMeanings = map[string]string{
	"policy":              "policyn gav inget lagligt stöd",
	"too_large":           "för stort meddelande",
	"malformed":           "trasigt kuvert",
	"truncated":           "avklippt kuvert",
	"trailing_data":       "data efter signaturen",
	"unknown_version":     "okänd formatversion",
	"bad_signature":       "signaturen stämmer inte",
	"clock_skew":          "avsändarens klocka går fel",
	"wrong_key":           "inte krypterat till brokerns nyckel",
	"revoked_key":         "återkallad nyckel",
	"unknown_sender":      "okänd avsändare",
	"unknown_recipient":   "okänd mottagare",
	"sender_mismatch":     "avsändaren är inte den som publicerade",
	"replay":              "redan skickat (replay)",
	"bad_metadata":        "felaktig metadata",
	"policy_error":        "policyn kunde inte utvärderas",
	"consent_unavailable": "samtyckesregistret kunde inte läsas",
	"audit_unavailable":   "granskningsloggen kunde inte läsas",
	"rate_limited":        "för många meddelanden för fort",
	"internal":            "internt fel",
}

// families indexes gathered metric families by name.
type families map[string]*dto.MetricFamily

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value returns a counter's or gauge's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// sum adds the values of the series of name whose labels match want.
func (f families) sum(name string, want map[string]string) float64 {
	var t float64
	for _, m := range f[name].GetMetric() {
		ok := true
		for k, v := range want {
			ok = ok && label(m, k) == v
		}
		if ok {
			t += value(m)
		}
	}
	return t
}

// histogram returns the cumulative buckets of the histogram name.
func (f families) histogram(name string) histogram {
	var h histogram
	ms := f[name].GetMetric()
	if len(ms) == 0 || ms[0].GetHistogram() == nil {
		return h
	}
	hg := ms[0].GetHistogram()
	h.count = hg.GetSampleCount()
	for _, b := range hg.GetBucket() {
		h.bounds = append(h.bounds, b.GetUpperBound())
		h.counts = append(h.counts, b.GetCumulativeCount())
	}
	return h
}

// histogram is a Prometheus histogram's cumulative buckets; the +Inf bucket
// is implied by count.
type histogram struct {
	bounds []float64
	counts []uint64
	count  uint64
}

// minus returns the observations of h that o had not seen (o is older).
func (h histogram) minus(o histogram) histogram {
	if len(o.counts) != len(h.counts) {
		return h
	}
	d := histogram{bounds: h.bounds, counts: make([]uint64, len(h.counts)), count: h.count - o.count}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - o.counts[i]
	}
	return d
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile does:
// linear within the bucket it falls in; in the +Inf bucket, the highest
// finite bound. It returns false without observations.
func (h histogram) quantile(q float64) (float64, bool) {
	if h.count == 0 {
		return 0, false
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, c := range h.counts {
		if float64(c) >= rank {
			in := c - below
			if in == 0 {
				return h.bounds[i], true
			}
			return lower + (h.bounds[i]-lower)*(rank-float64(below))/float64(in), true
		}
		lower, below = h.bounds[i], c
	}
	if len(h.bounds) == 0 {
		return 0, false
	}
	return h.bounds[len(h.bounds)-1], true
}

// sample is the registry's state at one time, for rates and windows.
type sample struct {
	at                time.Time
	allowed, rejected float64
	hist              map[string]histogram
}

// record keeps a sample of f at now, at most one per second, and drops
// samples older than twice the window. It returns a copy of the samples.
func (d *dashboard) record(now time.Time, f families) []sample {
	s := sample{at: now, allowed: f.sum(mDecisions, map[string]string{"outcome": decision.Delivered}),
		rejected: f.sum(mDecisions, map[string]string{"outcome": decision.Rejected}), hist: map[string]histogram{}}
	for _, st := range latencyStages {
		s.hist[st.metric] = f.histogram(st.metric)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if n := len(d.samples); n == 0 || now.Sub(d.samples[n-1].at) >= time.Second {
		d.samples = append(d.samples, s)
	} else {
		d.samples[n-1] = s
	}
	keep := 0
	for keep < len(d.samples) && now.Sub(d.samples[keep].at) > 2*defaults.OpsWindow {
		keep++
	}
	d.samples = append([]sample(nil), d.samples[keep:]...)
	return append([]sample(nil), d.samples...)
}

// view gathers the registry once and builds what the page shows.
func (d *dashboard) view() *opsView {
	now := d.now()
	v := &opsView{At: now.UTC()}
	gathered, err := d.s.Metrics.Registry.Gather()
	if err != nil {
		// Gather returns what it could gather with the error.
		d.s.cfg.Logger.Warn("dashboard: metrics gathered with errors", "err", err)
	}
	f := families{}
	for _, mf := range gathered {
		f[mf.GetName()] = mf
	}
	if err := d.s.Health(); err != nil {
		v.Problem = err.Error()
	}
	samples := d.record(now, f)
	last := samples[len(samples)-1]

	// Policy.
	for _, m := range f[metrics.OpsPolicyRevisionInfo].GetMetric() {
		v.Policy.Revision = label(m, "revision")
	}
	v.Policy.Healthy = f.sum(mPolicyHealthy, nil) == 1

	// Decisions and their rates over the last few seconds.
	v.Decisions = decisionsView{Allowed: last.allowed, Rejected: last.rejected,
		InFlight: f.sum(mInFlight, nil), Redeliveries: f.sum(mRedeliveries, nil)}
	if i := recentFrom(samples, now, 10*time.Second); i >= 0 {
		dt := last.at.Sub(samples[i].at).Seconds()
		a, r := (last.allowed-samples[i].allowed)/dt, (last.rejected-samples[i].rejected)/dt
		v.Decisions.AllowedRate, v.Decisions.RejectedRate = &a, &r
	}
	v.Chart = chart(samples, now)

	// Decisions by rule.
	rules := map[string]*ruleView{}
	for _, m := range f[mDecisions].GetMetric() {
		rule := label(m, "rule")
		if rules[rule] == nil {
			rules[rule] = &ruleView{Rule: rule}
		}
		switch label(m, "outcome") {
		case decision.Delivered:
			rules[rule].Delivered += value(m)
		case decision.Rejected:
			rules[rule].Rejected += value(m)
		}
	}
	for _, r := range rules {
		v.Rules = append(v.Rules, *r)
	}
	sort.Slice(v.Rules, func(i, j int) bool {
		a, b := v.Rules[i], v.Rules[j]
		if a.Delivered+a.Rejected != b.Delivered+b.Rejected {
			return a.Delivered+a.Rejected > b.Delivered+b.Rejected
		}
		return a.Rule < b.Rule
	})

	// Rejections by code, with their senders.
	codes := map[string]*codeView{}
	bySender := map[string]float64{}
	var rejections float64
	for _, m := range f[mRejections].GetMetric() {
		code, sender, n := label(m, "code"), label(m, "sender"), value(m)
		if codes[code] == nil {
			codes[code] = &codeView{Code: code, Meaning: codeMeanings[code]}
		}
		codes[code].Count += n
		codes[code].Senders = append(codes[code].Senders, senderCount{Agency: sender, Count: n})
		bySender[sender] += n
		rejections += n
	}
	for _, c := range codes {
		sort.Slice(c.Senders, func(i, j int) bool {
			if c.Senders[i].Count != c.Senders[j].Count {
				return c.Senders[i].Count > c.Senders[j].Count
			}
			return c.Senders[i].Agency < c.Senders[j].Agency
		})
		if rejections > 0 {
			c.Share = c.Count / rejections
		}
		v.Rejections = append(v.Rejections, *c)
	}
	sort.Slice(v.Rejections, func(i, j int) bool {
		if v.Rejections[i].Count != v.Rejections[j].Count {
			return v.Rejections[i].Count > v.Rejections[j].Count
		}
		return v.Rejections[i].Code < v.Rejections[j].Code
	})

	// Latency percentiles over the window, or since start.
	from := windowStart(samples, now)
	for _, st := range latencyStages {
		h, window := last.hist[st.metric], "since start"
		if from >= 0 && from < len(samples)-1 {
			if w := h.minus(samples[from].hist[st.metric]); w.count > 0 {
				h, window = w, last.at.Sub(samples[from].at).Round(time.Second).String()
			}
		}
		lv := latencyView{Stage: st.stage, Swedish: st.swedish, Metric: st.metric, Window: window, Count: h.count}
		for q, dst := range map[float64]**float64{0.5: &lv.P50, 0.9: &lv.P90, 0.99: &lv.P99} {
			if x, ok := h.quantile(q); ok {
				ms := x * 1000
				*dst = &ms
			}
		}
		v.Latency = append(v.Latency, lv)
	}

	// Audit log.
	v.Audit = auditView{
		Records: f.sum(metrics.OpsAuditRecords, nil), CheckpointRecords: f.sum(metrics.OpsCheckpointRecords, nil),
		Blocked: f.sum(mAuditBlocked, nil) != 0, AppendFailures: f.sum(mAuditFailures, nil),
	}
	if ms := f[metrics.OpsCheckpointTime].GetMetric(); len(ms) > 0 {
		v.Audit.CheckpointAt = unixTime(value(ms[0]))
	}
	v.Audit.Uncovered = max(0, v.Audit.Records-v.Audit.CheckpointRecords)
	times := map[string]time.Time{}
	for _, m := range f[metrics.OpsCosignedTime].GetMetric() {
		times[label(m, "witness")] = unixTime(value(m))
	}
	for _, m := range f[metrics.OpsCosignedRecords].GetMetric() {
		w := label(m, "witness")
		v.Audit.Cosignatures = append(v.Audit.Cosignatures, cosignView{Witness: w, Records: value(m), At: times[w],
			Behind: max(0, v.Audit.Records-value(m))})
	}
	sort.Slice(v.Audit.Cosignatures, func(i, j int) bool { return v.Audit.Cosignatures[i].Witness < v.Audit.Cosignatures[j].Witness })

	// Agencies, with their connections and the security events they caused.
	connected, active := map[string]bool{}, map[string]time.Time{}
	for _, m := range f[metrics.OpsAgencyConnected].GetMetric() {
		v.Connections = true
		connected[label(m, "agency")] = value(m) == 1
	}
	for _, m := range f[metrics.OpsAgencyLastActive].GetMetric() {
		active[label(m, "agency")] = unixTime(value(m))
	}
	events := map[string]float64{}
	for _, m := range f[mSecurity].GetMetric() {
		s := securityView{Kind: label(m, "kind"), Agency: label(m, "agency"), Count: value(m)}
		events[s.Agency] += s.Count
		v.Security = append(v.Security, s)
	}
	sort.Slice(v.Security, func(i, j int) bool {
		if v.Security[i].Count != v.Security[j].Count {
			return v.Security[i].Count > v.Security[j].Count
		}
		return v.Security[i].Kind+v.Security[i].Agency < v.Security[j].Kind+v.Security[j].Agency
	})
	dir := d.s.Dir.Current()
	for _, a := range dir.Agencies {
		v.Agencies = append(v.Agencies, agencyView{ID: a.ID, Name: a.Name, Kind: a.Kind, Connected: connected[a.ID],
			LastActive: active[a.ID], Rejections: bySender[a.ID], Events: events[a.ID]})
	}
	return v
}

// recentFrom returns the index of the oldest sample, other than the newest,
// taken within span of now, or -1 if there is none.
func recentFrom(samples []sample, now time.Time, span time.Duration) int {
	for i := 0; i < len(samples)-1; i++ {
		if now.Sub(samples[i].at) <= span {
			return i
		}
	}
	return -1
}

// windowStart returns the sample the window's percentiles count from: the
// newest one at least defaults.OpsWindow old, or else the oldest; -1 when
// there are none.
func windowStart(samples []sample, now time.Time) int {
	if len(samples) == 0 {
		return -1
	}
	from := 0
	for i, s := range samples {
		if now.Sub(s.at) >= defaults.OpsWindow {
			from = i
		}
	}
	return from
}

func unixTime(sec float64) time.Time {
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9)).UTC()
}

// chartView is the rate chart, drawn on the server as SVG polylines.
type chartView struct {
	Width, Height int     `json:"-"`
	Allowed       string  `json:"-"` // polyline points
	Rejected      string  `json:"-"`
	Max           float64 `json:"max_per_second"`
	Points        int     `json:"points"`
	Window        string  `json:"window"`
}

// Size of the chart's drawing area in SVG units.
const chartW, chartH = 1000, 160

// chart draws the rates between consecutive samples within the window.
func chart(samples []sample, now time.Time) chartView {
	c := chartView{Width: chartW, Height: chartH, Window: fmt.Sprintf("%g min", defaults.OpsWindow.Minutes()), Max: 1}
	type point struct{ x, a, r float64 }
	var pts []point
	start := now.Add(-defaults.OpsWindow)
	for i := 1; i < len(samples); i++ {
		p, q := samples[i-1], samples[i]
		if q.at.Before(start) {
			continue
		}
		dt := q.at.Sub(p.at).Seconds()
		if dt <= 0 {
			continue
		}
		x := float64(chartW) * q.at.Sub(start).Seconds() / defaults.OpsWindow.Seconds()
		pt := point{x: x, a: (q.allowed - p.allowed) / dt, r: (q.rejected - p.rejected) / dt}
		c.Max = max(c.Max, pt.a, pt.r)
		pts = append(pts, pt)
	}
	c.Max = niceCeil(c.Max)
	var a, r []string
	for _, p := range pts {
		a = append(a, fmt.Sprintf("%.1f,%.1f", p.x, chartH-chartH*p.a/c.Max))
		r = append(r, fmt.Sprintf("%.1f,%.1f", p.x, chartH-chartH*p.r/c.Max))
	}
	c.Allowed, c.Rejected, c.Points = strings.Join(a, " "), strings.Join(r, " "), len(pts)
	return c
}

// niceCeil rounds x up to 1, 2 or 5 times a power of ten, for the axis.
func niceCeil(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// templateFuncs format the view for the page: Swedish words, numbers
// without a decimal part when they have none, times in UTC.
var templateFuncs = template.FuncMap{
	"refreshMS": func() int64 { return defaults.OpsRefresh.Milliseconds() },
	"utc":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
	"short": func(rev string) string {
		if len(rev) > 12 {
			return rev[:12]
		}
		return rev
	},
	"num":   formatNum,
	"half":  func(n int) int { return n / 2 },
	"half2": func(x float64) string { return formatNum(x / 2) },
	"pct":   func(x float64) string { return strconv.FormatFloat(100*x, 'f', 0, 64) + " %" },
	"rate": func(x *float64) string {
		if x == nil {
			return "–"
		}
		return strconv.FormatFloat(*x, 'f', 1, 64)
	},
	"ms": func(x *float64) string {
		switch {
		case x == nil:
			return "–"
		case *x < 10:
			return strconv.FormatFloat(*x, 'f', 2, 64) + " ms"
		default:
			return strconv.FormatFloat(*x, 'f', 0, 64) + " ms"
		}
	},
	"window": func(w string) string {
		if w == "since start" {
			return "sedan start"
		}
		return "senaste " + w
	},
	"ago": func(now, t time.Time) string {
		d := now.Sub(t)
		switch {
		case d < 0:
			d = 0
			fallthrough
		case d < time.Minute:
			return fmt.Sprintf("för %d s sedan", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("för %d min sedan", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("för %d h sedan", int(d.Hours()))
		default:
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
	},
	"kind": func(k string) string {
		switch k {
		case directory.KindPolice:
			return "polis"
		case directory.KindSchool:
			return "skola"
		case directory.KindSocialServices:
			return "socialtjänst"
		}
		return k
	},
	"event": func(k string) string {
		switch k {
		case metrics.SecurityPermissionViolation:
			return "behörighetsöverträdelse (permission violation)"
		case metrics.SecurityAuthFailure:
			return "misslyckad inloggning (authentication failure)"
		}
		return k
	},
}

// formatNum writes a count without decimals, anything else with one.
func formatNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatInt(int64(x), 10)
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}
