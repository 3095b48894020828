package tlsca_test

import (
	"errors"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

func TestNATSOptions(t *testing.T) {
	for _, tc := range []struct {
		ca, cert, key string
		n             int
		err           error
	}{
		{n: 0},
		{ca: "ca.crt", n: 1},
		{ca: "ca.crt", cert: "tls.crt", key: "tls.key", n: 2},
		{cert: "tls.crt", key: "tls.key", n: 1},
		{ca: "ca.crt", cert: "tls.crt", err: tlsca.ErrHalfCertificate},
		{ca: "ca.crt", key: "tls.key", err: tlsca.ErrHalfCertificate},
	} {
		opts, err := tlsca.NATSOptions(tc.ca, tc.cert, tc.key)
		if !errors.Is(err, tc.err) || len(opts) != tc.n {
			t.Errorf("NATSOptions(%q, %q, %q) = %d options, %v; want %d, %v", tc.ca, tc.cert, tc.key, len(opts), err, tc.n, tc.err)
		}
	}
}
