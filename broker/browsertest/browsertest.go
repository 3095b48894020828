// Package browsertest is test support for the pages' browser tests: it starts
// Debian's headless Chromium (the package `chromium`, installed by `make
// tools`) and drives it with chromedp, and keeps screenshots as test
// artefacts.
//
// Only _test.go files import this package.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds one browser test from the browser's start. It is generous:
// the test machines are small and busy, and a first Chromium start is slow.
const Timeout = 3 * time.Minute

// ArtifactsEnv names the environment variable that overrides the folder
// screenshots are written to (by default bin/artifacts at the module root).
const ArtifactsEnv = "SEKRETESS_ARTIFACTS"

// ChromiumEnv names the environment variable that overrides the browser's path.
const ChromiumEnv = "CHROMIUM"

// ExecPath returns the Chromium binary the tests use: $CHROMIUM, or
// `chromium` (Debian's package) on the PATH.
func ExecPath() (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browsertest: no chromium on the PATH: run `make tools` (it installs Debian's chromium package) or set " + ChromiumEnv)
}

// New starts a fresh headless Chromium with its own empty profile and
// returns a chromedp context for one tab, bounded by Timeout. The browser is
// closed, and its exit awaited, when the test ends. A missing browser fails
// the test: browser tests are part of the suite, never skipped.
func New(t testing.TB) context.Context {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// Pages are served on loopback; Chromium must reach nothing else.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), Timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	// Start the browser now, so that a missing or broken browser fails here.
	// (chromedp.Run's first call allocates the browser for the context's life.)
	if err := chromedp.Do(tabCtx); err != nil {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("browsertest: start %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		cancelTimeout()
	})
	return tabCtx
}

// ArtifactsDir returns the folder screenshots go to: $SEKRETESS_ARTIFACTS,
// or bin/artifacts at the module root (bin/ is never committed).
func ArtifactsDir() (string, error) {
	if d := os.Getenv(ArtifactsEnv); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("browsertest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin", "artifacts"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the test's folder; set " + ArtifactsEnv)
		}
		dir = parent
	}
}

// Screenshot captures the whole page in ctx as a PNG named name+".png" in
// ArtifactsDir, and returns its path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; below, JPEG
	if err != nil {
		t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	dir, err := ArtifactsDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
