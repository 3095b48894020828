package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
)

// TestEveryCommandAnswersHelp: every command group and every command
// answers -h, --help and help with its help on stdout and exit status 0,
// and runs nothing else.
func TestEveryCommandAnswersHelp(t *testing.T) {
	commands := [][]string{{"init"}, {"demo"}, {"nats-config"}, {"send"}, {"recv"}, {"receipts"}, {"decide"}}
	for _, g := range groups {
		commands = append(commands, []string{g.name})
		for _, c := range g.commands {
			commands = append(commands, []string{g.name, c})
		}
	}
	// The groups' tables must list what the usage shows, and no more.
	for _, want := range []string{"agency new", "agency keys", "broker revoke", "audit check-proof", "audit rotate-key"} {
		found := false
		for _, c := range commands {
			found = found || strings.Join(c, " ") == want
		}
		if !found {
			t.Errorf("command %q is missing from the table", want)
		}
	}
	for _, c := range commands {
		name := strings.Join(c, " ")
		for _, h := range []string{"-h", "--help", "help"} {
			t.Run(name+" "+h, func(t *testing.T) {
				var out, stderr bytes.Buffer
				err := run(append(append([]string(nil), c...), h), &out)
				if code := exitCode(err, &stderr); code != 0 {
					t.Fatalf("brokerctl %s %s: exit %d, %v", name, h, code, stderr.String())
				}
				text := out.String()
				if !strings.Contains(text, "brokerctl "+name) {
					t.Fatalf("brokerctl %s %s printed no help naming it:\n%s", name, h, text)
				}
				if len(c) == 1 && isGroup(c[0]) {
					if !strings.Contains(text, "COMMAND -h") {
						t.Fatalf("help of group %s does not say how to get a command's help:\n%s", name, text)
					}
				} else if !strings.Contains(text, "Flags:") {
					t.Fatalf("help of %s lists no flags:\n%s", name, text)
				}
			})
		}
	}
}

func isGroup(name string) bool {
	for _, g := range groups {
		if g.name == name {
			return true
		}
	}
	return false
}

// TestUnknownAndMissingCommands: an unknown command, or a group without
// one, is an error (exit 1) that says what to run.
func TestUnknownAndMissingCommands(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"agency", "frobnicate"}, {"broker", "x"}, {"audit", "x"}, {"agency"}} {
		err := run(args, io.Discard)
		var stderr bytes.Buffer
		if code := exitCode(err, &stderr); code != 1 || !strings.Contains(stderr.String(), "brokerctl") {
			t.Errorf("brokerctl %v: exit %d, %q", args, code, stderr.String())
		}
	}
	if err := run([]string{"agency", "frobnicate"}, io.Discard); err == nil || !strings.Contains(err.Error(), `"agency frobnicate"`) {
		t.Errorf("unknown agency command: %v", err)
	}
	// A bad flag is reported once, with the way to the help.
	if err := run([]string{"send", "--nope"}, io.Discard); err == nil || !strings.Contains(err.Error(), "brokerctl send -h") {
		t.Errorf("bad flag: %v", err)
	}
}

// TestWaitingForCheckpoint: verify says plainly which records wait for the
// next checkpoint and by when it is due, and when it is overdue.
func TestWaitingForCheckpoint(t *testing.T) {
	recorded := time.Date(2026, 3, 4, 9, 30, 2, 500e6, time.UTC)
	due := time.Date(2026, 3, 4, 9, 30, 13, 0, time.UTC).Local().Format("15:04:05")
	for _, tc := range []struct {
		name   string
		rep    audit.Report
		oldest time.Time
		now    time.Time
		want   []string
	}{
		{"after the tour's two sends", audit.Report{Records: 2, Uncovered: 2}, recorded, recorded.Add(time.Second),
			[]string{"All 2 records wait for the next checkpoint, due by", due, "one every 10s", "--checkpoint-interval"}},
		{"one new record", audit.Report{Records: 5, Checkpoints: 2, Uncovered: 1}, recorded, recorded.Add(5 * time.Second),
			[]string{"The newest record waits for the next checkpoint, due by", due}},
		{"overdue", audit.Report{Records: 5, Checkpoints: 2, Uncovered: 3}, recorded, recorded.Add(time.Hour),
			[]string{"The newest 3 records wait for a checkpoint that was due by", due, "is the broker running?"}},
		{"time unknown", audit.Report{Records: 1, Uncovered: 1}, time.Time{}, recorded,
			[]string{"The log's one record waits for the next checkpoint, due within 10s of being recorded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := waitingForCheckpoint(&tc.rep, tc.oldest, 10*time.Second, tc.now)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q\nlacks %q", got, w)
				}
			}
			if strings.Contains(got, "no checkpoint exists") {
				t.Errorf("%q", got)
			}
		})
	}
}
