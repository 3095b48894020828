package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
	"github.com/sekretessbroker/sekretessbroker/clients/webdesk"
)

// deskSettings is the `desk:` block of gateway.yaml.
type deskSettings struct {
	// IdentityHeader names the header a trusted identity proxy in front of
	// the gateway puts the signed-in user's name in; empty: users sign in
	// with their passwords.
	IdentityHeader string `json:"identity_header,omitempty"`
	// SecureCookies marks the session cookie Secure behind a TLS proxy.
	SecureCookies bool `json:"secure_cookies,omitempty"`
}

// newDesk makes the web desk the gateway serves at /desk/, for the users
// under `users:` in the gateway's configuration file; without users there is
// no desk. It acts through the
// gateway's own connection and inbox: the gateway moves deliveries into the
// inbox, so the desk never takes them from the broker itself.
func newDesk(log *slog.Logger) func(*gateway.Server) (http.Handler, error) {
	return func(s *gateway.Server) (http.Handler, error) {
		raw := s.File().Users
		if len(raw) == 0 {
			log.Info("the web desk at /desk/ is off: no users in the configuration file (see gateway hash-password)")
			return nil, nil
		}
		var users []webdesk.User
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&users); err != nil {
			return nil, fmt.Errorf("gateway configuration: users: %w", err)
		}
		var settings deskSettings
		if raw := s.File().Desk; len(raw) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&settings); err != nil {
				return nil, fmt.Errorf("gateway configuration: desk: %w", err)
			}
		}
		return webdesk.New(webdesk.Config{
			Client: s.Agency(), AgencyID: s.AgencyID(), Directory: s.Directory(),
			Users: users, IdentityHeader: settings.IdentityHeader, SecureCookies: settings.SecureCookies,
			Pseudonym: s.PseudonymKey(), Inbox: s.Inbox(),
			Fetch:    func(context.Context) error { return nil },
			BasePath: "/desk/", Logger: log,
		})
	}
}

// hashPassword reads a password from in (one line) and prints its argon2id
// hash for a user's password_hash in gateway.yaml.
func hashPassword(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("hash-password: give the password on standard input, e.g. read -rs PW; printf '%s\\n' \"$PW\" | gateway hash-password")
	}
	h, err := webdesk.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	_, err = fmt.Fprintln(out, h)
	return err
}
