package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sekretessbroker/sekretessbroker/broker/browsertest"
)

// The browser renders a page served on loopback, and the screenshot is a PNG.
func TestBrowserRendersLoopbackPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="sv"><title>Prov</title><h1 id="h">Sekretessprövning</h1></html>`)
	}))
	defer srv.Close()
	t.Setenv(browsertest.ArtifactsEnv, t.TempDir())

	ctx := browsertest.New(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible("#h")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text("#h"))
	if err != nil {
		t.Fatal(err)
	}
	if text != "Sekretessprövning" {
		t.Fatalf("heading = %q, want Sekretessprövning", text)
	}
	path := browsertest.Screenshot(t, ctx, "loopback")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 || string(b[1:4]) != "PNG" {
		t.Fatalf("%s is not a PNG", path)
	}
}
