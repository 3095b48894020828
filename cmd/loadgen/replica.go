package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// readyLine is what a replica prints once its broker consumes.
const readyLine = "loadgen-replica: ready"

// serveReplica runs a second broker in this process on an existing NATS
// server, in the queue group of the first (the durable consumer they share),
// until it is sent SIGTERM.
func serveReplica(dataDir, policies, url string, workers int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	svc, err := service.Start(ctx, service.Config{DataDir: dataDir, PolicyDir: policies, NATSURL: url, Workers: workers,
		Logger: brokerLogger()})
	if err != nil {
		return err
	}
	fmt.Println(readyLine)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return svc.Shutdown(sctx)
}

// replica is a second broker process.
type replica struct {
	cmd *exec.Cmd
}

// startReplica starts this program again as a second broker replica and
// waits until it consumes.
func startReplica(ctx context.Context, dataDir, policies, url string, workers int) (*replica, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-replica-of", url, "-replica-data", dataDir, "-policies", policies,
		"-workers", strconv.Itoa(workers))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start replica: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == readyLine {
				ready <- nil
				return
			}
		}
		ready <- fmt.Errorf("replica ended before it was ready")
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Wait()
			return nil, err
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("replica not ready after 2 minutes")
	}
	return &replica{cmd: cmd}, nil
}

// cpu is the replica's user and system CPU time so far, from /proc.
func (r *replica) cpu() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(r.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are fields 14 and 15, in clock ticks (100 a
	// second on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// stop ends the replica and waits for it.
func (r *replica) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = r.cmd.Process.Kill()
		<-done
	}
}
