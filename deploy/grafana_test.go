package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
)

const dashboardPath = "grafana/dashboards/sekretessbroker.json"

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// brokerMetricNames are the series names the broker exports: every
// collector of metrics.Metrics, and the _bucket, _sum and _count series of
// its histograms.
func brokerMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New()
	// The gauges the operators' dashboard reads, as the broker registers them.
	if err := m.RegisterOps(func() metrics.Ops {
		return metrics.Ops{AuditRecords: 1, CheckpointRecords: 1, CheckpointTime: time.Unix(1, 0),
			Cosignatures: []metrics.Cosignature{{Witness: "jo.se/witness", Records: 1, Time: time.Unix(1, 0)}},
			Agencies:     []metrics.Agency{{ID: "skola", Connected: true, LastActive: time.Unix(1, 0)}}, PolicyRevision: "r"}
	}); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok || v.Type().Field(i).Name == "Registry" {
			continue
		}
		ch := make(chan *prometheus.Desc, 8)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if n := fqName.FindStringSubmatch(d.String()); n != nil {
				names[n[1]] = true
			}
		}
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	if !names["sekretess_decisions_total"] || !names["sekretess_pipeline_seconds_bucket"] {
		t.Fatalf("broker metrics not found by the test: %v", names)
	}
	return names
}

// grafanaVars are the dashboard's variables, replaced by values Prometheus
// accepts so that promtool can parse the expressions.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$instance", ".*")

// TestDashboardMetricsExist: every series a panel queries is one the broker
// exports (or Prometheus' own up), so no panel stays empty for a typo or a
// metric that does not exist.
func TestDashboardMetricsExist(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard has no uid or title")
	}
	names := brokerMetricNames(t)
	ident := regexp.MustCompile(`\b(sekretess_[a-z_]+|up)\b`)
	ids := map[int]bool{}
	queried := map[string]bool{}
	n := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the dashboard's data source variable", p.Title)
		}
		for _, tg := range p.Targets {
			n++
			found := ident.FindAllString(tg.Expr, -1)
			if len(found) == 0 {
				t.Errorf("panel %q: %q queries no broker metric", p.Title, tg.Expr)
			}
			for _, name := range found {
				queried[strings.TrimSuffix(name, "_bucket")] = true
				if name != "up" && !names[name] {
					t.Errorf("panel %q queries %s, which the broker does not export (broker/metrics)", p.Title, name)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("%d queries, want the ops dashboard's panels", n)
	}
	// The ops panels that the broker's metrics can fill.
	for _, want := range []string{
		"sekretess_decisions_total", "sekretess_rejections_total", "sekretess_security_events_total",
		"sekretess_policy_eval_seconds", "sekretess_pipeline_seconds", "sekretess_audit_blocked", "sekretess_policy_healthy",
	} {
		if !queried[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// TestDashboardQueriesParse has promtool parse every panel's query, as a
// recording rule, with the dashboard's variables filled in.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (make tools installs it)")
	}
	d := loadDashboard(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr, _ := json.Marshal(grafanaVars.Replace(tg.Expr))
			fmt.Fprintf(&b, "      - record: dashboard:panel_%d_%s\n        expr: %s\n", p.ID, tg.RefID, expr)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s", err, out)
	}
}

// TestGrafanaProvisioning: the compose file's Grafana mounts the
// provisioning folder, the dashboard provider reads the folder where the
// dashboards are mounted, and the data source is the compose Prometheus.
func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	g, ok := c.Services["grafana"]
	if !ok {
		t.Fatal("docker-compose.yml has no grafana service")
	}
	targetOf := map[string]string{}
	for _, m := range mounts(g) {
		targetOf[filepath.Clean(m.source)] = m.target
	}
	if got := targetOf["grafana/provisioning"]; got != "/etc/grafana/provisioning" {
		t.Errorf("grafana/provisioning is mounted at %q, want /etc/grafana/provisioning", got)
	}
	var providers struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/sekretessbroker.yml", &providers)
	if len(providers.Providers) != 1 || providers.Providers[0].Options.Path == "" {
		t.Fatalf("dashboard providers: %+v, want one with a path", providers.Providers)
	}
	if got, want := targetOf[filepath.Dir(dashboardPath)], providers.Providers[0].Options.Path; got != want {
		t.Errorf("%s is mounted at %q, but the provider reads %q", filepath.Dir(dashboardPath), got, want)
	}
	var ds struct {
		Datasources []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("data sources %+v, want one Prometheus", ds.Datasources)
	}
	if _, ok := c.Services["prometheus"]; !ok || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("data source URL %q, want the compose file's prometheus service", ds.Datasources[0].URL)
	}
}
