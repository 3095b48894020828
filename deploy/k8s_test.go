package deploy_test

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"sigs.k8s.io/yaml"
)

// k8sObject is what these tests read of a Kubernetes manifest; kubeconform
// checks the whole of each against the API's schemas (make check-deploy).
type k8sObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int `json:"replicas"`
		Template struct {
			Spec podSpec `json:"spec"`
		} `json:"template"`
		// Service
		ClusterIP                string `json:"clusterIP"`
		PublishNotReadyAddresses bool   `json:"publishNotReadyAddresses"`
		// NetworkPolicy
		PolicyTypes []string     `json:"policyTypes"`
		Ingress     []policyRule `json:"ingress"`
		Egress      []policyRule `json:"egress"`
	} `json:"spec"`
}

type podSpec struct {
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken"`
	SecurityContext              struct {
		RunAsNonRoot *bool `json:"runAsNonRoot"`
		RunAsUser    *int  `json:"runAsUser"`
	} `json:"securityContext"`
	Containers []struct {
		Args           []string `json:"args"`
		LivenessProbe  *probe   `json:"livenessProbe"`
		ReadinessProbe *probe   `json:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `json:"requests"`
			Limits   map[string]string `json:"limits"`
		} `json:"resources"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		} `json:"securityContext"`
		VolumeMounts []struct {
			Name      string `json:"name"`
			MountPath string `json:"mountPath"`
			ReadOnly  bool   `json:"readOnly"`
		} `json:"volumeMounts"`
	} `json:"containers"`
	Volumes []struct {
		Name      string `json:"name"`
		Projected *struct {
			Sources []struct {
				Secret    *projection `json:"secret"`
				ConfigMap *projection `json:"configMap"`
			} `json:"sources"`
		} `json:"projected"`
	} `json:"volumes"`
}

type probe struct {
	HTTPGet struct {
		Path string `json:"path"`
	} `json:"httpGet"`
}

type projection struct {
	Name  string `json:"name"`
	Items []struct {
		Key  string `json:"key"`
		Path string `json:"path"`
	} `json:"items"`
}

type policyRule struct {
	From  []peer `json:"from"`
	To    []peer `json:"to"`
	Ports []struct {
		Protocol string `json:"protocol"`
		Port     int    `json:"port"`
	} `json:"ports"`
}

type peer struct {
	PodSelector       *struct{ MatchLabels map[string]string } `json:"podSelector"`
	NamespaceSelector *struct{ MatchLabels map[string]string } `json:"namespaceSelector"`
	IPBlock           any                                      `json:"ipBlock"`
}

// readManifests reads the documents of a multi-document YAML file.
func readManifests(t *testing.T, file string) []k8sObject {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []k8sObject
	for _, doc := range strings.Split("\n"+string(b), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o k8sObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if o.Kind != "" {
			out = append(out, o)
		}
	}
	return out
}

func findObject(t *testing.T, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return k8sObject{}
}

func brokerDeployment(t *testing.T) (k8sObject, podSpec) {
	d := findObject(t, readManifests(t, "k8s/broker.yaml"), "Deployment", "sekretessbroker")
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("the broker's pod has %d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	return d, d.Spec.Template.Spec
}

// TestK8sBrokerDeployment: two replicas against the NATS cluster with R3
// streams, probes on /metrics (liveness) and /readyz (readiness), non-root on a read-only root
// file system, with resources.
func TestK8sBrokerDeployment(t *testing.T) {
	d, pod := brokerDeployment(t)
	c := pod.Containers[0]
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if !strings.HasPrefix(flag(c.Args, "--nats-url"), "tls://") {
		t.Errorf("--nats-url %q, want the cluster over TLS", flag(c.Args, "--nats-url"))
	}
	if got := flag(c.Args, "--replicas"); got != "3" {
		t.Errorf("--replicas %q, want 3", got)
	}
	// A broken policy fails /healthz and holds messages; restarting the pod
	// would mend nothing, so liveness only asks that the process serves.
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/metrics" {
		t.Error("no liveness probe on /metrics")
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("no readiness probe on /readyz")
	}
	if sc := pod.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("the pod may run as root")
	}
	if sc := c.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("the container's root file system is writable or it may escalate privileges")
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no %s request", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod gets a Kubernetes API token it never uses")
	}
}

// TestK8sDataLayout: the read-only data directory assembled from the Secret
// and the ConfigMap holds exactly the files the broker reads, at the paths
// of broker/layout, broker/keys and broker/tlsca, and none that only an
// agency, the CA, a NATS node or an auditor may hold.
func TestK8sDataLayout(t *testing.T) {
	_, pod := brokerDeployment(t)
	c := pod.Containers[0]
	data := flag(c.Args, "--data")
	var volume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == data {
			volume = m.Name
			if !m.ReadOnly {
				t.Errorf("%s is mounted writable", data)
			}
		}
	}
	mapped := map[string]string{} // path in the pod -> "secret/NAME:KEY"
	for _, v := range pod.Volumes {
		if v.Name != volume || v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			for kind, p := range map[string]*projection{"secret": s.Secret, "configmap": s.ConfigMap} {
				if p == nil {
					continue
				}
				for _, it := range p.Items {
					mapped[path.Join(data, it.Path)] = kind + "/" + p.Name + ":" + it.Key
				}
			}
		}
	}
	if len(mapped) == 0 {
		t.Fatalf("--data %q is not a projected volume", data)
	}
	brokerDir, tlsDir := layout.BrokerKeys(data), layout.TLS(data)
	public := []string{
		layout.Directory(data),
		filepath.Join(brokerDir, keys.AuditPublicKeyFile),
		filepath.Join(brokerDir, keys.AuditKeyHistoryFile),
		filepath.Join(brokerDir, keys.AuditorsFile),
		filepath.Join(tlsDir, tlsca.CAFile),
	}
	private := []string{
		filepath.Join(brokerDir, keys.SigningKeyFile),
		filepath.Join(brokerDir, keys.AgeKeyFile),
		filepath.Join(brokerDir, keys.NKeyFile),
		filepath.Join(brokerDir, keys.AuditKeyFile),
		filepath.Join(tlsDir, tlsca.BrokerCertFile),
		filepath.Join(tlsDir, tlsca.BrokerKeyFile),
	}
	// The operators' bearer token for the dashboard at /.
	optional := []string{filepath.Join(brokerDir, "ops.token")}
	for _, p := range public {
		if src, ok := mapped[p]; !ok {
			t.Errorf("%s is not mounted", p)
		} else if !strings.HasPrefix(src, "configmap/") && !strings.HasPrefix(src, "secret/") {
			t.Errorf("%s comes from %s", p, src)
		}
	}
	for _, p := range slices.Concat(private, optional) {
		if src, ok := mapped[p]; !ok {
			t.Errorf("%s is not mounted", p)
		} else if !strings.HasPrefix(src, "secret/") {
			t.Errorf("%s, a private key or token, comes from %s instead of a Secret", p, src)
		}
	}
	for p, src := range mapped {
		if !slices.Contains(slices.Concat(public, private, optional), p) {
			t.Errorf("%s (from %s) is not a file the broker reads", p, src)
		}
		base := path.Base(p)
		for _, never := range []string{keys.PseudonymKeyFile, keys.AuditorNKeyFile, tlsca.CAKeyFile, tlsca.ServerKeyFile,
			tlsca.RouteKeyFile, tlsca.ClientKeyFile, "jetstream.key"} {
			if base == never {
				t.Errorf("%s (from %s) must never be on the broker", p, src)
			}
		}
		if strings.Contains(p, "/"+layout.AgenciesDir+"/") {
			t.Errorf("%s (from %s): an agency's files are never on the broker", p, src)
		}
	}
	for _, f := range []string{"--tls-ca", "--tls-client-cert", "--tls-client-key"} {
		if _, ok := mapped[flag(c.Args, f)]; !ok {
			t.Errorf("%s %q is not a mounted file", f, flag(c.Args, f))
		}
	}
}

// TestK8sNetworkPolicy: only Prometheus reaches the broker, and the broker
// reaches only NATS (and the cluster's DNS, to find it).
func TestK8sNetworkPolicy(t *testing.T) {
	np := findObject(t, readManifests(t, "k8s/networkpolicy.yaml"), "NetworkPolicy", "sekretessbroker")
	if !slices.Contains(np.Spec.PolicyTypes, "Ingress") || !slices.Contains(np.Spec.PolicyTypes, "Egress") {
		t.Fatalf("policyTypes %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 {
		t.Fatalf("ingress %+v, want one rule from Prometheus", np.Spec.Ingress)
	}
	from := np.Spec.Ingress[0].From[0]
	if from.PodSelector == nil || from.PodSelector.MatchLabels["app.kubernetes.io/name"] != "prometheus" || from.IPBlock != nil {
		t.Errorf("ingress from %+v, want Prometheus' pods only", from)
	}
	if ports := np.Spec.Ingress[0].Ports; len(ports) != 1 || ports[0].Port != 8080 {
		t.Errorf("ingress ports %+v, want 8080 only", ports)
	}
	var natsRule, dnsRule bool
	for _, r := range np.Spec.Egress {
		if len(r.To) != 1 || r.To[0].PodSelector == nil || r.To[0].IPBlock != nil {
			t.Errorf("egress rule %+v does not name its pods", r)
			continue
		}
		labels := r.To[0].PodSelector.MatchLabels
		switch {
		case labels["app.kubernetes.io/name"] == "nats":
			natsRule = len(r.Ports) == 1 && r.Ports[0].Port == 4222
		case labels["k8s-app"] == "kube-dns":
			dnsRule = true
			for _, p := range r.Ports {
				if p.Port != 53 {
					t.Errorf("egress to DNS on port %d", p.Port)
				}
			}
		default:
			t.Errorf("egress to %v: the broker talks to NATS only", labels)
		}
	}
	if !natsRule || !dnsRule {
		t.Errorf("egress: to NATS on 4222 %v, to DNS %v; want both", natsRule, dnsRule)
	}
}

// TestK8sPrometheus: Prometheus finds every broker pod through the headless
// Service, ready or not, under the job name the alert rules use.
func TestK8sPrometheus(t *testing.T) {
	var p struct {
		ScrapeConfigs []struct {
			JobName      string `json:"job_name"`
			DNSSDConfigs []struct {
				Names []string `json:"names"`
				Port  int      `json:"port"`
			} `json:"dns_sd_configs"`
		} `json:"scrape_configs"`
	}
	readYAML(t, "k8s/prometheus.yml", &p)
	var k struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	readYAML(t, "k8s/kustomization.yaml", &k)
	svc := findObject(t, readManifests(t, "k8s/broker.yaml"), "Service", "sekretessbroker-metrics")
	if svc.Spec.ClusterIP != "None" || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("Service sekretessbroker-metrics: clusterIP %q, publishNotReadyAddresses %v; want a headless Service listing every pod", svc.Spec.ClusterIP, svc.Spec.PublishNotReadyAddresses)
	}
	if len(p.ScrapeConfigs) != 1 || p.ScrapeConfigs[0].JobName != "sekretessbroker" || len(p.ScrapeConfigs[0].DNSSDConfigs) != 1 {
		t.Fatalf("scrape configs %+v, want the job sekretessbroker by DNS", p.ScrapeConfigs)
	}
	sd := p.ScrapeConfigs[0].DNSSDConfigs[0]
	want := "sekretessbroker-metrics." + k.Namespace + ".svc.cluster.local"
	if !slices.Equal(sd.Names, []string{want}) || sd.Port != 8080 {
		t.Errorf("DNS SD %v port %d, want %s port 8080", sd.Names, sd.Port, want)
	}
}

// TestK8sKustomization: kustomize applies every manifest of deploy/k8s.
func TestK8sKustomization(t *testing.T) {
	var k struct {
		Resources []string `json:"resources"`
	}
	readYAML(t, "k8s/kustomization.yaml", &k)
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" || base == "nats-values.yaml" {
			continue
		}
		if !slices.Contains(k.Resources, base) {
			t.Errorf("%s is not in kustomization.yaml's resources", base)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization.yaml: %v", err)
		}
	}
}

// TestNATSHelmValues: the chart's values ask for what node.conf configures:
// three nodes, JetStream on files, TLS with client certificates on the
// clients' port and the routes, the route certificate's name, encryption
// at rest, and the nats-server of go.mod.
func TestNATSHelmValues(t *testing.T) {
	var v struct {
		Container struct {
			Image struct {
				Tag string `json:"tag"`
			} `json:"image"`
		} `json:"container"`
		TLSCA struct {
			Enabled    bool   `json:"enabled"`
			SecretName string `json:"secretName"`
		} `json:"tlsCA"`
		Config struct {
			Merge map[string]any `json:"merge"`
			NATS  struct {
				TLS tlsValues `json:"tls"`
			} `json:"nats"`
			Cluster struct {
				Enabled  bool      `json:"enabled"`
				Replicas int       `json:"replicas"`
				TLS      tlsValues `json:"tls"`
				Merge    struct {
					Authorization struct {
						User string `json:"user"`
					} `json:"authorization"`
				} `json:"merge"`
			} `json:"cluster"`
			JetStream struct {
				Enabled   bool `json:"enabled"`
				FileStore struct {
					Enabled bool `json:"enabled"`
					PVC     struct {
						Enabled bool `json:"enabled"`
					} `json:"pvc"`
				} `json:"fileStore"`
				Merge struct {
					Cipher string `json:"cipher"`
					Key    string `json:"key"`
				} `json:"merge"`
			} `json:"jetstream"`
		} `json:"config"`
	}
	readYAML(t, "k8s/nats-values.yaml", &v)
	if want := natsServerVersion(t) + "-alpine"; v.Container.Image.Tag != want {
		t.Errorf("image tag %q, want %q (the nats-server in go.mod)", v.Container.Image.Tag, want)
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("cluster enabled %v with %d replicas, want 3", c.Cluster.Enabled, c.Cluster.Replicas)
	}
	if !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled || !c.JetStream.FileStore.PVC.Enabled {
		t.Error("JetStream does not store on a persistent volume")
	}
	if c.JetStream.Merge.Cipher != "chachapoly" || !strings.Contains(c.JetStream.Merge.Key, "$JETSTREAM_KEY") {
		t.Error("JetStream's files are not encrypted with JETSTREAM_KEY")
	}
	if !v.TLSCA.Enabled || v.TLSCA.SecretName == "" {
		t.Error("no CA for the tls blocks (tlsCA)")
	}
	if !c.NATS.TLS.Enabled || c.NATS.TLS.SecretName == "" || c.NATS.TLS.Merge["verify"] != true {
		t.Errorf("clients' port: TLS %+v, want a certificate and client certificates verified", c.NATS.TLS)
	}
	if !c.Cluster.TLS.Enabled || c.Cluster.TLS.SecretName == "" || c.Cluster.TLS.Merge["verify_and_map"] != true ||
		c.Cluster.Merge.Authorization.User != "CN="+tlsca.RouteName {
		t.Errorf("routes: TLS %+v, user %q; want mutual TLS mapped to CN=%s", c.Cluster.TLS, c.Cluster.Merge.Authorization.User, tlsca.RouteName)
	}
	if c.Merge["zz$include"] != "auth.conf" {
		t.Error("the agencies' users (auth.conf of brokerctl nats-config) are not included")
	}
}

type tlsValues struct {
	Enabled    bool           `json:"enabled"`
	SecretName string         `json:"secretName"`
	Merge      map[string]any `json:"merge"`
}
