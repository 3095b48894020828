package natsserver

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
)

// serverLog is the embedded server's logger (server.Logger): the server's
// log goes to the broker's slog, each record marked source=nats-server. It
// turns the server's permission violations and authentication failures into
// security events — a log record naming the agency, and a count in
// sekretess_security_events_total — and passes its notices, warnings and
// errors (JetStream's among them) on at the matching level.
//
// The server's debug output reaches it only with Config.Debug and its
// protocol trace only with Config.Trace (both at debug level). A trace line
// that quotes a message's bytes (MSG_PAYLOAD) is dropped even then: the
// bytes of a message are an envelope, a decision or a consent record, and
// never belong in a log.
type serverLog struct {
	log     *slog.Logger
	metrics *metrics.Metrics // nil: events are only logged
	// agencies maps an nkey to its agency id ("broker" for the broker's).
	agencies atomic.Pointer[map[string]string]
}

// setDirectory makes the agencies of d the ones events are attributed to.
func (l *serverLog) setDirectory(d *directory.Directory) {
	m := map[string]string{d.Broker.NATS.NKey: "broker"}
	for _, a := range d.Agencies {
		if a.NATS.NKey != "" {
			m[a.NATS.NKey] = a.ID
		}
	}
	for _, a := range d.Auditors {
		m[a.NKey] = "auditor " + a.Name
	}
	l.agencies.Store(&m)
}

var (
	// A client's log prefix holds "<account>/nkey:<key>" once it has
	// connected; a failed authentication names the key as Nkey "<key>".
	connectedNKey = regexp.MustCompile(`/nkey:(U[A-Z2-7]{55})`)
	presentedNKey = regexp.MustCompile(`Nkey "(U[A-Z2-7]{55})"`)
	violation     = regexp.MustCompile(`(Publish|Subscription) Violation(?: Too Many Tokens)? - (?:Subject|Reply) "([^"]*)"`)
)

// maxLoggedSubject bounds the subject in a security event: the subjects of
// the broker hold agency ids, but a client may try any text.
const maxLoggedSubject = 128

// event reports whether line is a security event, and if so logs and counts it.
func (l *serverLog) event(line string) bool {
	var kind, op, subject, key string
	if m := violation.FindStringSubmatch(line); m != nil {
		kind, op, subject = metrics.SecurityPermissionViolation, strings.ToLower(m[1]), m[2]
		if k := connectedNKey.FindStringSubmatch(line); k != nil {
			key = k[1]
		}
	} else if strings.Contains(line, "authentication error") {
		kind = metrics.SecurityAuthFailure
		if k := presentedNKey.FindStringSubmatch(line); k != nil {
			key = k[1]
		}
	} else {
		return false
	}
	agency := "unknown"
	if id, ok := (*l.agencies.Load())[key]; ok {
		agency = id
	}
	if l.metrics != nil {
		l.metrics.SecurityEvents.WithLabelValues(kind, agency).Inc()
	}
	attrs := []any{"kind", kind, "agency", agency}
	if op != "" {
		if len(subject) > maxLoggedSubject {
			subject = subject[:maxLoggedSubject] + "…"
		}
		attrs = append(attrs, "op", op, "subject", subject)
	}
	if agency == "unknown" && key != "" {
		// A public key, not a secret: it tells which key to revoke or add.
		attrs = append(attrs, "nkey", key)
	}
	l.log.Warn("security event: NATS refused a client", attrs...)
	return true
}

// source marks the records that come from the embedded server.
const source = "nats-server"

// Noticef logs the server's notices (start-up, JetStream recovery, client
// connections it closed) at info. The lines of the JetStream banner, which
// say nothing in a log, go to debug.
func (l *serverLog) Noticef(format string, v ...any) {
	line := strings.TrimSpace(fmt.Sprintf(format, v...))
	if isBanner(line) {
		l.log.Debug(line, "source", source)
		return
	}
	l.log.Info(line, "source", source)
}

// isBanner reports a line of the server's ASCII-art banner: no letter or
// digit in it.
func isBanner(line string) bool {
	return !strings.ContainsFunc(line, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// Warnf logs a warning of the server.
func (l *serverLog) Warnf(format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	if !l.event(line) {
		l.log.Warn(line, "source", source)
	}
}

// Errorf logs an error of the server, or the security event it reports.
func (l *serverLog) Errorf(format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	if !l.event(line) {
		l.log.Error(line, "source", source)
	}
}

// Fatalf logs a fatal error of the server (which then stops).
func (l *serverLog) Fatalf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "source", source, "fatal", true)
}

// Debugf logs the server's debug output at debug. The server calls it only
// with Config.Debug.
func (l *serverLog) Debugf(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "source", source)
}

// Tracef logs the server's protocol trace at debug, except the lines that
// quote a message's bytes. The server calls it only with Config.Trace.
func (l *serverLog) Tracef(format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	if strings.Contains(line, "MSG_PAYLOAD") {
		return
	}
	l.log.Debug(line, "source", source, "trace", true)
}
