package service_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/browsertest"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestDashboardInBrowser loads the dashboard in headless Chromium against a
// real broker carrying allowed and rejected messages, a permission
// violation and a witness's cosignature. Without the token the browser gets
// the sign-in form with 401; signed in, the page's script refreshes the
// numbers under the page's CSP, and every number checked equals what
// /metrics says and what the test sent. No pseudonym or payload is on the
// page. The screenshot is kept in bin/artifacts/dashboard.png.
func TestDashboardInBrowser(t *testing.T) {
	w := newWorld(t)
	base := "http://" + w.svc.HTTPAddr()
	tok := opsToken(t, w)
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	w.dial(police, nil) // connected, and idle

	// Without the token: 401 for a program and the sign-in form for the browser.
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET / without token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	ctx := browsertest.New(t)
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusUnauthorized {
		t.Fatalf("the browser without the token got %d, want 401", resp.Status)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#token")); err != nil {
		t.Fatal(err)
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML("html")); err != nil || strings.Contains(html, "allowed-total") {
		t.Fatalf("the sign-in page shows the dashboard (%v)", err)
	}

	// Signed in with the form.
	resp, err = chromedp.RunResponse(ctx, chromedp.SendKeys("#token", tok), chromedp.Submit("#token"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("after sign-in: %d", resp.Status)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != base+"/" {
		t.Fatalf("after sign-in the browser is at %q (%v), want %s/", loc, err, base)
	}
	refreshes := waitRefresh(t, ctx, 0)

	// Traffic in two rounds while the page is open, so that its chart has
	// something to draw.
	mctx, cancel := ctxT()
	defer cancel()
	send := func(allowed, rejected int) {
		t.Helper()
		for i := range allowed {
			if _, err := sch.Deliver(mctx, agency.Message{To: social, Kind: "concern_report",
				Metadata: concern(fmt.Sprintf("elev-%d", 9000+i)), Payload: []byte("Eleven berättar om våld i hemmet.")}); err != nil {
				t.Fatal(err)
			}
			d, err := soc.Next(mctx)
			if err != nil {
				t.Fatal(err)
			}
			d.Ack()
		}
		for range rejected {
			_, err := sch.Deliver(mctx, agency.Message{To: police, Kind: "disclosure",
				Metadata: map[string]any{"category": "health", "subject": map[string]any{"pseudonym": "elev-4711", "age": 13}},
				Payload:  []byte("Elevhälsans journal")})
			if _, ok := errors.AsType[*agency.RejectedError](err); !ok {
				t.Fatalf("disclosure: %v, want a rejection", err)
			}
		}
	}
	send(2, 1)
	refreshes = waitRefresh(t, ctx, refreshes)
	send(1, 1)
	raw, id, err := sch.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-1"), Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 0xff
	expectRejected(t, sch, raw, id, errcode.BadSignature)

	// The school publishes as social services: a permission violation.
	if err := w.rawConn(school).Publish(bus.In(social), []byte("x")); err != nil {
		t.Fatal(err)
	}
	violations := w.svc.Metrics.SecurityEvents.WithLabelValues(metrics.SecurityPermissionViolation, school)
	if err := poll.Until(mctx, func() bool { return testutil.ToFloat64(violations) == 1 }); err != nil {
		t.Fatalf("no permission violation counted: %v", err)
	}

	// A checkpoint, and a witness's cosignature of it.
	cp, err := w.svc.Audit.Checkpoint(mctx)
	if err != nil {
		t.Fatal(err)
	}
	logKeys, err := keys.AuditKeyHistory(layout.BrokerKeys(w.data))
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := audit.GenerateWitnessKey("jo-vittne")
	if err != nil {
		t.Fatal(err)
	}
	wit, err := audit.NewWitness(skey, filepath.Join(t.TempDir(), "witness.state"), logKeys, nil)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := wit.Cosign(cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := brokerJetStream(t, w).Publish(mctx, bus.AuditCosignedPrefix+"jo-vittne", cosigned); err != nil {
		t.Fatal(err)
	}

	// Settled: the cosignature is read, and the page refreshed twice since.
	var m map[string]float64
	if err := poll.Until(mctx, func() bool {
		m = scrape(t, w.svc.HTTPAddr())
		_, ok := m[`sekretess_audit_cosigned_records{witness="jo-vittne"}`]
		return ok
	}); err != nil {
		t.Fatalf("the cosignature never reached /metrics: %v", err)
	}
	waitRefresh(t, ctx, waitRefresh(t, ctx, refreshes))
	browsertest.Screenshot(t, ctx, "dashboard")

	// The page agrees with /metrics, and both with what was sent.
	records, _ := w.svc.Audit.Head()
	for _, c := range []struct {
		sel         string
		metric, out float64
	}{
		{"#allowed-total", sumSeries(m, "sekretess_decisions_total", `outcome="delivered"`), 3},
		{"#rejected-total", sumSeries(m, "sekretess_decisions_total", `outcome="rejected"`), 3},
		{`tr[data-code="policy"] td.n`, sumSeries(m, "sekretess_rejections_total", `code="policy"`), 2},
		{`tr[data-code="bad_signature"] td.n`, sumSeries(m, "sekretess_rejections_total", `code="bad_signature"`), 1},
		{`tr[data-rule="R-CONCERN"] td.n`, sumSeries(m, "sekretess_decisions_total", `rule="R-CONCERN"`), 3},
		{"#audit-records", m["sekretess_audit_records"], float64(records)},
		{`tr[data-kind="permission_violation"] td.n`, sumSeries(m, "sekretess_security_events_total", `kind="permission_violation"`), 1},
		{`tr[data-agency="rosengard-skola"] td.n`, sumSeries(m, "sekretess_rejections_total", `sender="rosengard-skola"`), 3},
	} {
		text, err := chromedp.Run(ctx, chromedp.Text(c.sel))
		if err != nil {
			t.Fatalf("%s: %v", c.sel, err)
		}
		got, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || got != c.metric || got != c.out {
			t.Errorf("%s shows %q; /metrics says %v, the test sent %v", c.sel, text, c.metric, c.out)
		}
	}
	for sel, want := range map[string]string{
		`tr[data-agency="rosengard-skola"] td.conn`: "ja",
		`tr[data-agency="polisen-syd"] td.conn`:     "ja",
		`tr[data-agency="friskolan-malmo"] td.conn`: "nej",
		"#cosignatures":     "jo-vittne",
		"#audit-checkpoint": strconv.FormatFloat(m["sekretess_audit_checkpoint_records"], 'f', 0, 64) + " poster",
		"#policy-healthy":   "frisk",
		"#problem":          "Allt fungerar",
		"#audit-blocked":    "nej",
	} {
		text, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil || !strings.Contains(text, want) {
			t.Errorf("%s = %q (%v), want it to contain %q", sel, text, err, want)
		}
	}
	if rev, err := chromedp.Run(ctx, chromedp.Text("#policy-revision")); err != nil || rev == "" ||
		m[`sekretess_policy_revision_info{revision="`+w.svc.Policy.Revision()+`"}`] != 1 || !strings.HasPrefix(w.svc.Policy.Revision(), rev) {
		t.Errorf("policy revision on the page %q (%v), in force %q", rev, err, w.svc.Policy.Revision())
	}
	// The chart drew the rates of the traffic above.
	if pts, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("polyline.allowed").getAttribute("points")`)); err != nil || pts == "" {
		t.Errorf("no allowed-rate line on the chart: %q %v", pts, err)
	}

	// Nothing personal on the page, in its JSON or in /metrics.
	html, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	if err != nil {
		t.Fatal(err)
	}
	c := newOpsClient(t, w)
	_, summary := c.do("GET", "/ops/api/summary", nil, map[string]string{"Authorization": "Bearer " + tok})
	_, scraped := c.do("GET", "/metrics", nil, nil)
	for name, text := range map[string]string{"page": html, "summary": summary, "/metrics": scraped} {
		for _, secret := range []string{"elev-", "våld", "journal", "orosanmälan", tok} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q", name, secret)
			}
		}
	}
}

// waitRefresh waits until the dashboard's script has swapped in fresh
// numbers more than after times, and returns how many times it has.
func waitRefresh(t *testing.T, ctx context.Context, after int) int {
	t.Helper()
	expr := fmt.Sprintf(`Number(document.getElementById("panel").dataset.refreshes || 0) > %d`, after)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(time.Minute))); err != nil {
		t.Fatalf("the page's numbers were not refreshed (was its script blocked?): %v", err)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("panel").dataset.refreshes`))
	if err != nil {
		t.Fatal(err)
	}
	i, err := strconv.Atoi(n)
	if err != nil {
		t.Fatal(err)
	}
	return i
}
