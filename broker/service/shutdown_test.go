package service_test

import (
	"context"
	"errors"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// TestShutdownWithDoneContext stops a service with a context that is already
// cancelled: Shutdown must cut every wait short, not hang on it, and still
// stop everything it started.
func TestShutdownWithDoneContext(t *testing.T) {
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	svc, err := service.Start(context.Background(), service.Config{
		DataDir: data, PolicyDir: filepath.Join("..", "..", "policies"),
		NATSListen: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ReloadInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	url, httpAddr := svc.NATSURL(), svc.HTTPAddr()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Shutdown(ctx) }()
	// The deadline only turns a hang into a failure; it is far above any
	// normal shutdown, which does not wait for anything here.
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown: %v, want nil or context.Canceled", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Shutdown with a cancelled context did not return")
	}

	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	for what, addr := range map[string]string{"embedded NATS server": u.Host, "HTTP endpoint": httpAddr} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("the %s at %s still accepts connections after Shutdown", what, addr)
		}
	}
}
