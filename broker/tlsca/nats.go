package tlsca

import (
	"errors"

	"github.com/nats-io/nats.go"
)

// ErrHalfCertificate: a client certificate was given without its key, or a
// key without its certificate.
var ErrHalfCertificate = errors.New("a client certificate needs both its certificate file and its key file")

// NATSOptions returns the nats.go options of a connection that checks the
// server's certificate against caFile and, with certFile and keyFile,
// presents a client certificate (mutual TLS). Empty names leave that part
// out. nats.go reads the files again on every reconnect, so a renewed
// certificate is picked up without a restart.
func NATSOptions(caFile, certFile, keyFile string) ([]nats.Option, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, ErrHalfCertificate
	}
	var opts []nats.Option
	if caFile != "" {
		opts = append(opts, nats.RootCAs(caFile))
	}
	if certFile != "" {
		opts = append(opts, nats.ClientCert(certFile, keyFile))
	}
	return opts, nil
}
