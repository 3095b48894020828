package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway/gatewaytest"
)

// TestStartAsTheREADMESays starts the command as the README does, on a data
// folder laid out as "brokerctl demo --data DIR" makes it (the agencies'
// homes beside DIR): it writes the token into the agency's home, mode
// 0600, prints its address, and sends a report of concern.
func TestStartAsTheREADMESays(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{})
	svc := d.Start(t, nil)
	line := startCommand(t, "--data", d.Data, "--as", brokertest.School, "--listen", "127.0.0.1:0", "--nats-url", svc.NATSURL())
	m := regexp.MustCompile(`^gateway of rosengard-skola: (http://127\.0\.0\.1:[0-9]+) \(token: (.+)\)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line: %q", line)
	}
	home := layout.AgencyHome(layout.AgencyHomes(d.Data), brokertest.School)
	tokenFile := filepath.Join(home, gateway.TokenFile)
	if m[2] != tokenFile {
		t.Errorf("token file %s, want %s (the agency's home beside the data folder)", m[2], tokenFile)
	}
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"to":"soc-malmo","kind":"concern_report","claims":{"category":"concern","subject":{"pseudonym":"elev-4711","birth_date":"2013-05-02"},"purpose":"orosanmälan"},"text":"Eleven berättar om våld i hemmet."}`
	req, _ := http.NewRequest(http.MethodPost, m[1]+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("Content-Type", "application/json")
	status, answer := exchange(t, req, []byte(body))
	var res struct {
		ID      string
		Receipt struct{ Outcome, Rule string }
	}
	if err := json.Unmarshal(answer, &res); err != nil || status != http.StatusCreated ||
		res.Receipt.Outcome != "delivered" || res.Receipt.Rule != "R-CONCERN" {
		t.Fatalf("POST /v1/messages: %d %s %v", status, answer, err)
	}
}

// exchange sends req, whose body is body, and returns the answer, both
// checked against the gateway's specification.
func exchange(t *testing.T, req *http.Request, body []byte) (int, []byte) {
	t.Helper()
	spec, err := gatewaytest.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.ValidateRequest(req, body); err != nil {
		t.Errorf("%s %s does not match the specification: %v", req.Method, req.URL.Path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.ValidateResponse(req, body, resp.StatusCode, resp.Header, answer, false); err != nil {
		t.Errorf("the answer to %s %s does not match the specification: %v\n%s", req.Method, req.URL.Path, err, answer)
	}
	return resp.StatusCode, answer
}

// TestUsage: a command line without --as is refused with the help.
func TestUsage(t *testing.T) {
	var out, logs bytes.Buffer
	err := run(context.Background(), []string{"--data", t.TempDir()}, &out, &logs)
	if err == nil || !strings.Contains(err.Error(), "--as") || !strings.Contains(logs.String(), "-listen") {
		t.Fatalf("err %v, help %q", err, logs.String())
	}
}

// TestLayering: the gateway runs at the agency and links none of the
// broker's daemon: no NATS server, no policy engine, no metrics.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/nats-io/nats-server", "github.com/open-policy-agent/opa", "github.com/prometheus/",
			"github.com/sekretessbroker/sekretessbroker/broker/service", "github.com/getkin/kin-openapi"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("cmd/gateway links %s", dep)
			}
		}
	}
}

// TestBrokerWithTLS: with --tls-ca the gateway reaches a broker that
// requires mutual TLS, with the client certificate in the agency's home.
func TestBrokerWithTLS(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(brokertest.School, brokertest.Social), TLS: true})
	svc := d.Start(t, nil)
	line := startCommand(t, "--data", d.Data, "--as", brokertest.Social, "--listen", "127.0.0.1:0",
		"--nats-url", svc.NATSURL(), "--tls-ca", service.TLSPath(d.Data, tlsca.CAFile))
	if !strings.HasPrefix(line, "gateway of soc-malmo: http://127.0.0.1:") {
		t.Fatalf("first line: %q", line)
	}
	req, _ := http.NewRequest(http.MethodGet, strings.Fields(line)[3]+"/healthz", nil)
	if status, answer := exchange(t, req, nil); status != http.StatusOK {
		t.Fatalf("GET /healthz: %d %s", status, answer)
	}
}

// TestDeskServedWithUsers: with users in the agency's gateway.yaml (their
// hashes from "gateway hash-password"), the gateway serves the web desk at
// /desk/, which asks an official to sign in.
func TestDeskServedWithUsers(t *testing.T) {
	var hash bytes.Buffer
	if err := hashPassword(strings.NewReader("ett långt lösenord\n"), &hash); err != nil {
		t.Fatal(err)
	}
	if err := hashPassword(strings.NewReader("\n"), io.Discard); err == nil {
		t.Fatal("hash-password of an empty password succeeded")
	}
	d := brokertest.NewDeployment(t, brokertest.Options{})
	svc := d.Start(t, nil)
	home := layout.AgencyHome(layout.AgencyHomes(d.Data), brokertest.School)
	conf := "users:\n  - name: eva\n    display_name: Eva Berg, rektor\n    role: rector\n    password_hash: '" +
		strings.TrimSpace(hash.String()) + "'\n"
	if err := os.WriteFile(layout.HomeGatewayConfig(home), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	line := startCommand(t, "--data", d.Data, "--as", brokertest.School, "--listen", "127.0.0.1:0", "--nats-url", svc.NATSURL())
	m := regexp.MustCompile(`(http://127\.0\.0\.1:[0-9]+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line: %q", line)
	}
	resp, err := http.Get(m[1] + "/desk/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `lang="sv"`) || !strings.Contains(string(page), "password") {
		t.Fatalf("GET /desk/: %d\n%s", resp.StatusCode, page)
	}
}

// startCommand runs the gateway command with args until the test ends, and
// returns the first line it prints (its address and token file). A run that
// ends with an error fails the test, with the gateway's log.
func startCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, pw, &logs)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v\n%s", err, logs.String())
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("the gateway printed no address: %v\n%s", err, logs.String())
	}
	go io.Copy(io.Discard, pr)
	return line
}
