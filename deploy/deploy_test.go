// Package deploy_test checks the deployment files in deploy/ against each
// other and against the code they deploy: Docker does not run where the
// tests do, so the compose file is checked as data.
package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"sigs.k8s.io/yaml"
)

// readYAML decodes the YAML file at path (anchors and merge keys resolved)
// into v through its JSON field names.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Command     []string          `json:"command"`
	Restart     string            `json:"restart"`
	Volumes     []string          `json:"volumes"`
	Environment map[string]string `json:"environment"`
}

// flag returns the value of --name in a command line, or "".
func flag(cmd []string, name string) string {
	for i, a := range cmd {
		if a == name && i+1 < len(cmd) {
			return cmd[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// mount is one short-syntax volume of a compose service.
type mount struct{ source, target string }

func mounts(s composeService) []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			out = append(out, mount{parts[0], parts[1]})
		}
	}
	return out
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, "docker-compose.yml", &c)
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// natsServices are the services running a node of nats/node.conf; brokers
// those running sekretessbroker against the cluster.
func natsServices(c composeFile) []string {
	var out []string
	for name, s := range c.Services {
		if slices.Contains(s.Command, "/etc/nats/node.conf") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func brokerServices(c composeFile) []string {
	var out []string
	for name, s := range c.Services {
		if flag(s.Command, "--nats-url") != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// storeDir is the JetStream store_dir of nats/node.conf.
func storeDir(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("nats", "node.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*store_dir:\s*"?([^"\s]+)"?`).FindSubmatch(b)
	if m == nil {
		t.Fatal("nats/node.conf: no store_dir in its jetstream block")
	}
	return string(m[1])
}

// TestComposeRestarts: every service comes back after a crash, so brokers
// that start before the cluster has elected its leaders try again.
func TestComposeRestarts(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		switch {
		case s.Restart == "unless-stopped", s.Restart == "always", strings.HasPrefix(s.Restart, "on-failure"):
		default:
			t.Errorf("service %s: restart %q, want unless-stopped, always or on-failure", name, s.Restart)
		}
	}
}

// TestComposeJetStreamVolumes: each NATS node keeps its JetStream store in a
// named volume of its own, mounted at node.conf's store_dir, so the
// replicated audit log does not live in a container's writable layer.
func TestComposeJetStreamVolumes(t *testing.T) {
	c := loadCompose(t)
	dir := storeDir(t)
	nodes := natsServices(c)
	if len(nodes) != 3 {
		t.Fatalf("NATS services %v, want three nodes", nodes)
	}
	used := map[string]string{}
	for _, name := range nodes {
		var vol string
		for _, m := range mounts(c.Services[name]) {
			if m.target == dir {
				vol = m.source
			}
		}
		switch {
		case vol == "":
			t.Errorf("%s mounts nothing at the JetStream store_dir %s", name, dir)
			continue
		case strings.ContainsAny(vol, "./"):
			t.Errorf("%s mounts %s at %s: want a named volume, not a host path", name, vol, dir)
		}
		if _, ok := c.Volumes[vol]; !ok {
			t.Errorf("%s: volume %s is not declared under volumes:", name, vol)
		}
		if other, ok := used[vol]; ok {
			t.Errorf("%s and %s share the volume %s: each node needs its own store", name, other, vol)
		}
		used[vol] = name
		if s := c.Services[name]; s.Environment["NODE_NAME"] != name {
			t.Errorf("%s: NODE_NAME %q, want the service name (node.conf's routes use it)", name, s.Environment["NODE_NAME"])
		}
	}
}

// TestComposeBrokers: the brokers replicate every stream on all the nodes.
func TestComposeBrokers(t *testing.T) {
	c := loadCompose(t)
	brokers := brokerServices(c)
	if len(brokers) < 2 {
		t.Fatalf("broker services %v, want at least two", brokers)
	}
	nodes := natsServices(c)
	for _, b := range brokers {
		cmd := c.Services[b].Command
		if got := flag(cmd, "--replicas"); got != "3" {
			t.Errorf("%s: --replicas %q, want 3", b, got)
		}
		for _, n := range nodes {
			if !strings.Contains(flag(cmd, "--nats-url"), "://"+n+":") {
				t.Errorf("%s: --nats-url does not list %s", b, n)
			}
		}
	}
}

// TestNATSImageVersion: the cluster runs the nats-server the broker is built
// and tested with.
func TestNATSImageVersion(t *testing.T) {
	want := natsServerVersion(t)
	c := loadCompose(t)
	for _, name := range natsServices(c) {
		if img := c.Services[name].Image; img != "nats:"+want+"-alpine" {
			t.Errorf("%s runs %s, want nats:%s-alpine (the nats-server in go.mod)", name, img, want)
		}
	}
}

// natsServerVersion is the nats-server version in go.mod, without its "v".
func natsServerVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == "github.com/nats-io/nats-server/v2" {
			return strings.TrimPrefix(r.Mod.Version, "v")
		}
	}
	t.Fatal("go.mod does not require nats-server")
	return ""
}

type promConfig struct {
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
		KubernetesSDConfigs []struct {
			Role string `json:"role"`
		} `json:"kubernetes_sd_configs"`
	} `json:"scrape_configs"`
}

// TestPrometheusScrapesEveryBroker: prometheus.yml's sekretessbroker job
// lists exactly the compose file's brokers, each at its --http port, and
// the compose Prometheus mounts the rule files where the config finds them.
func TestPrometheusScrapesEveryBroker(t *testing.T) {
	c := loadCompose(t)
	var p promConfig
	readYAML(t, "prometheus.yml", &p)
	var targets []string
	for _, sc := range p.ScrapeConfigs {
		if sc.JobName != "sekretessbroker" {
			continue
		}
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	var want []string
	for _, b := range brokerServices(c) {
		addr := flag(c.Services[b].Command, "--http")
		_, port, ok := strings.Cut(addr, ":")
		if !ok || strings.HasPrefix(addr, "127.") {
			t.Errorf("%s: --http %q is not reachable from the Prometheus container", b, addr)
			continue
		}
		want = append(want, b+":"+port)
	}
	slices.Sort(targets)
	slices.Sort(want)
	if !slices.Equal(targets, want) {
		t.Errorf("prometheus.yml job sekretessbroker scrapes %v, want every broker of the compose file: %v", targets, want)
	}

	prom, ok := c.Services["prometheus"]
	if !ok {
		t.Fatal("docker-compose.yml has no prometheus service")
	}
	var config string
	targetOf := map[string]string{}
	for _, m := range mounts(prom) {
		targetOf[filepath.Clean(m.source)] = m.target
		if filepath.Clean(m.source) == "prometheus.yml" {
			config = m.target
		}
	}
	if config == "" || flag(prom.Command, "--config.file") != config {
		t.Fatalf("the prometheus service does not run with ./prometheus.yml (mounted at %q, --config.file %q)", config, flag(prom.Command, "--config.file"))
	}
	for _, rf := range p.RuleFiles {
		if _, err := os.Stat(rf); err != nil {
			t.Errorf("rule file %s: %v", rf, err)
		}
		if got, want := targetOf[filepath.Clean(rf)], filepath.Join(filepath.Dir(config), rf); got != want {
			t.Errorf("rule file %s is mounted at %q, want %q beside the config", rf, got, want)
		}
	}
}

// TestComposeNATSFiles: every node mounts each certificate and key that
// node.conf names, and none of the CA's or the broker's private files.
func TestComposeNATSFiles(t *testing.T) {
	c := loadCompose(t)
	b, err := os.ReadFile(filepath.Join("nats", "node.conf"))
	if err != nil {
		t.Fatal(err)
	}
	files := regexp.MustCompile(`(?m)^\s*(?:cert|key|ca)_file:\s*"([^"]+)"`).FindAllSubmatch(b, -1)
	if len(files) == 0 {
		t.Fatal("nats/node.conf names no certificate")
	}
	for _, name := range natsServices(c) {
		targets := map[string]string{}
		for _, m := range mounts(c.Services[name]) {
			targets[m.target] = m.source
			base := filepath.Base(m.source)
			if base == "ca.key" || base == "broker.key" || strings.Contains(m.source, "agencies") {
				t.Errorf("%s mounts %s, which no node needs", name, m.source)
			}
		}
		for _, f := range files {
			if _, ok := targets[string(f[1])]; !ok {
				t.Errorf("%s does not mount %s, which node.conf reads", name, f[1])
			}
		}
	}
}
