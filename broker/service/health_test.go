package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/policy/policytest"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// brokenPolicy copies the repository's policies, without their tests and
// examples, into a temporary folder with the decision rule renamed. It
// returns the folder, the main policy file, and that file's good text.
func brokenPolicy(t *testing.T) (dir, main string, good []byte) {
	t.Helper()
	src, err := brokertest.PolicyDir()
	if err != nil {
		t.Fatal(err)
	}
	dir = policytest.Copy(t, src)
	main = filepath.Join(dir, "sekretess.rego")
	if good, err = os.ReadFile(main); err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(good), "\ndecision := {", "\ndecision_renamed := {", 1)
	if broken == string(good) {
		t.Fatal("sekretess.rego has no decision rule to rename")
	}
	if err := os.WriteFile(main, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, main, good
}

// get returns the status and body of an HTTP GET of the broker's listener.
func get(t *testing.T, svc *service.Service, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + svc.HTTPAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// readyz returns /readyz's status and report.
func readyz(t *testing.T, svc *service.Service) (int, service.Readiness) {
	t.Helper()
	code, body := get(t, svc, "/readyz")
	var r service.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/readyz is not JSON: %v\n%s", err, body)
	}
	if len(r.Parts) != 5 {
		t.Fatalf("/readyz lists %d parts, want nats, streams, policy, audit and directory: %s", len(r.Parts), body)
	}
	return code, r
}

// TestBrokenPolicyHoldsMessages: a broker started on a policy whose decision
// rule is renamed reports 503 on /healthz and /readyz (naming the policy)
// and 0 in sekretess_policy_healthy, and holds a message undecided: no
// delivery, no receipt, no audit record. Once the policy file is mended the
// watch picks it up, and the held message is delivered with its decision.
func TestBrokenPolicyHoldsMessages(t *testing.T) {
	dir, main, good := brokenPolicy(t)
	dep := brokertest.NewDeployment(t, brokertest.Options{})
	svc := dep.Start(t, func(c *service.Config) {
		c.PolicyDir, c.HTTPAddr, c.ReloadInterval = dir, "127.0.0.1:0", 100*time.Millisecond
	})
	if code, body := get(t, svc, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "policy") {
		t.Fatalf("/healthz on a broken policy = %d %q, want 503 naming the policy", code, body)
	}
	if v := testutil.ToFloat64(svc.Metrics.PolicyHealthy); v != 0 {
		t.Fatalf("sekretess_policy_healthy = %v on a broken policy", v)
	}
	code, rep := readyz(t, svc)
	if code != http.StatusServiceUnavailable || rep.Ready || strings.Join(rep.Failing(), ",") != service.PartPolicy {
		t.Fatalf("/readyz = %d %+v, want 503 with only the policy failing", code, rep)
	}

	sch, soc := dep.Dial(t, brokertest.School), dep.Dial(t, brokertest.Social)
	ctx, cancel := ctxT()
	defer cancel()
	id, err := sch.Send(ctx, agency.Message{To: brokertest.Social, Kind: "concern_report",
		Metadata: concern("elev-4711"), Payload: []byte("Eleven berättar om våld i hemmet.")})
	if err != nil {
		t.Fatal(err)
	}
	if poll.Until(ctx, func() bool { return testutil.ToFloat64(svc.Metrics.PolicyHeld) == 1 }) != nil {
		t.Fatal("the broker never held the message (sekretess_policy_held stayed 0)")
	}
	// Held again on each retry, and never decided meanwhile.
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if r, err := sch.Receipt(short, id); !errors.Is(err, agency.ErrUnreachable) {
		t.Fatalf("a receipt while the policy is broken: %+v %v", r, err)
	}
	nothingArrives(t, soc)
	if r, err := svc.Audit.ByMessage(ctx, id); err != nil || r != nil {
		t.Fatalf("audit record while the policy is broken: %+v %v", r, err)
	}
	if n := testutil.ToFloat64(svc.Metrics.Rejections.WithLabelValues(errcode.PolicyError, brokertest.School)); n != 0 {
		t.Fatalf("%v policy_error rejections while holding", n)
	}

	if err := os.WriteFile(main, good, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := soc.Next(ctx)
	if err != nil || d.ID != id {
		t.Fatalf("after the policy was mended: %+v %v", d, err)
	}
	d.Ack()
	if d.Decision == nil || d.Decision.Rule != "R-CONCERN" || d.Decision.Outcome != decision.Delivered {
		t.Fatalf("held message delivered with decision %+v", d.Decision)
	}
	if r, err := sch.Receipt(ctx, id); err != nil || !r.Allowed() || r.Rule != "R-CONCERN" {
		t.Fatalf("receipt: %+v %v", r, err)
	}
	if code, body := get(t, svc, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz after mending = %d %q", code, body)
	}
	if code, rep := readyz(t, svc); code != http.StatusOK || !rep.Ready {
		t.Fatalf("/readyz after mending = %d %+v", code, rep)
	}
	if testutil.ToFloat64(svc.Metrics.PolicyHealthy) != 1 || testutil.ToFloat64(svc.Metrics.PolicyHeld) != 0 {
		t.Fatalf("metrics after mending: healthy %v, held %v",
			testutil.ToFloat64(svc.Metrics.PolicyHealthy), testutil.ToFloat64(svc.Metrics.PolicyHeld))
	}
}

// TestPolicyPatienceRejects: once a message has been held for the patience
// it is rejected with policy_error, recorded and answered with a receipt
// that says why and what to do; nothing is delivered.
func TestPolicyPatienceRejects(t *testing.T) {
	dir, _, _ := brokenPolicy(t)
	dep := brokertest.NewDeployment(t, brokertest.Options{})
	svc := dep.Start(t, func(c *service.Config) {
		c.PolicyDir, c.ReloadInterval = dir, 100*time.Millisecond
		// Over at the first retry.
		c.PolicyPatience = time.Nanosecond
	})
	sch, soc := dep.Dial(t, brokertest.School), dep.Dial(t, brokertest.Social)
	ctx, cancel := ctxT()
	defer cancel()
	id, err := sch.Send(ctx, agency.Message{To: brokertest.Social, Kind: "concern_report",
		Metadata: concern("elev-4711"), Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := sch.Receipt(ctx, id)
	var rej *agency.RejectedError
	if !errors.As(err, &rej) || r == nil || r.ErrorCode != errcode.PolicyError || !strings.Contains(strings.Join(r.Reasons, " "), "send it again") {
		t.Fatalf("receipt after the patience: %+v %v", r, err)
	}
	rec, err := svc.Audit.ByMessage(ctx, id)
	if err != nil || rec == nil || rec.ErrorCode != errcode.PolicyError || rec.DecisionID != r.DecisionID {
		t.Fatalf("audit record: %+v %v", rec, err)
	}
	nothingArrives(t, soc)
	if testutil.ToFloat64(svc.Metrics.PolicyHeld) != 0 {
		t.Fatal("a rejected message is still counted as held")
	}
}

// TestReadyzNamesFailingPart: /readyz names the part that fails: a
// directory file that no longer loads (the broker keeps the previous one,
// so /healthz stays 200), and a stream of the broker that is gone.
func TestReadyzNamesFailingPart(t *testing.T) {
	dep := brokertest.NewDeployment(t, brokertest.Options{})
	svc := dep.Start(t, func(c *service.Config) { c.HTTPAddr = "127.0.0.1:0" })
	if code, rep := readyz(t, svc); code != http.StatusOK || !rep.Ready {
		t.Fatalf("/readyz of a fresh broker = %d %+v", code, rep)
	}

	file := layout.Directory(dep.Data)
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(append([]byte(nil), good...), "\nagencies: [oops\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, rep := readyz(t, svc)
	if code != http.StatusServiceUnavailable || strings.Join(rep.Failing(), ",") != service.PartDirectory {
		t.Fatalf("/readyz with a broken directory file = %d %+v, want only the directory failing", code, rep)
	}
	if code, body := get(t, svc, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with the previous directory in force = %d %q", code, body)
	}
	if err := os.WriteFile(file, good, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := ctxT()
	defer cancel()
	nc, js, err := service.ConnectAsBroker(dep.Data, svc.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := js.DeleteStream(ctx, bus.StreamReceipts); err != nil {
		t.Fatal(err)
	}
	code, rep = readyz(t, svc)
	if code != http.StatusServiceUnavailable || strings.Join(rep.Failing(), ",") != service.PartStreams ||
		!strings.Contains(rep.Parts[1].Error, bus.StreamReceipts) {
		t.Fatalf("/readyz without the receipt stream = %d %+v, want the streams failing and naming it", code, rep)
	}
}

// TestEvaluationErrorOfOneMessageIsHeld: under a policy that passes its
// probe, a message whose own evaluation fails (here two rules give its
// decision conflicting values) is held like any other the policy cannot
// decide, while /healthz stays 200 and other messages are decided; mending
// the policy decides it.
func TestEvaluationErrorOfOneMessageIsHeld(t *testing.T) {
	dir, main, good := brokenPolicy(t)
	conflict := string(good) + "\nboom_decision := {\"allow\": false, \"rule\": null, \"basis\": null, \"obligations\": [], \"reasons\": [\"boom\"], \"also_allowed_by\": []}\n\n" +
		"decision := boom_decision if input.claims.purpose == \"boom\"\n"
	if err := os.WriteFile(main, []byte(conflict), 0o644); err != nil {
		t.Fatal(err)
	}
	dep := brokertest.NewDeployment(t, brokertest.Options{})
	svc := dep.Start(t, func(c *service.Config) {
		c.PolicyDir, c.HTTPAddr, c.ReloadInterval = dir, "127.0.0.1:0", 100*time.Millisecond
	})
	if err := svc.Health(); err != nil {
		t.Fatalf("the policy fails its probe: %v", err)
	}
	sch, soc := dep.Dial(t, brokertest.School), dep.Dial(t, brokertest.Social)
	ctx, cancel := ctxT()
	defer cancel()
	boom := concern("elev-1")
	boom["purpose"] = "boom"
	held, err := sch.Send(ctx, agency.Message{To: brokertest.Social, Kind: "concern_report", Metadata: boom, Payload: []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	if poll.Until(ctx, func() bool { return testutil.ToFloat64(svc.Metrics.PolicyHeld) == 1 }) != nil {
		t.Fatal("the message whose evaluation fails was not held")
	}
	// Another message is decided meanwhile, and the broker stays healthy.
	other, err := sch.Deliver(ctx, agency.Message{To: brokertest.Social, Kind: "concern_report", Metadata: concern("elev-2"), Payload: []byte("2")})
	if err != nil || !other.Allowed() {
		t.Fatalf("another message while one is held: %+v %v", other, err)
	}
	if d, err := soc.Next(ctx); err != nil || d.ID != other.MessageID {
		t.Fatalf("delivery of the other message: %+v %v", d, err)
	} else {
		d.Ack()
	}
	if code, body := get(t, svc, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if r, err := svc.Audit.ByMessage(ctx, held); err != nil || r != nil {
		t.Fatalf("audit record of the held message: %+v %v", r, err)
	}

	if err := os.WriteFile(main, good, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := soc.Next(ctx)
	if err != nil || d.ID != held || d.Decision == nil || d.Decision.Rule != "R-CONCERN" {
		t.Fatalf("after mending: %+v %v", d, err)
	}
	d.Ack()
}
