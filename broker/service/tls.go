package service

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

// TLSPath returns the path of file (one of tlsca's file names) in the TLS
// directory of dataDir.
func TLSPath(dataDir, file string) string {
	return filepath.Join(layout.TLS(dataDir), file)
}

// serverTLS returns the embedded server's TLS configuration, or nil when
// TLS is off.
func (c *Config) serverTLS() (*tls.Config, error) {
	if c.TLSCert == "" && c.TLSKey == "" {
		if c.TLSClientCA != "" {
			return nil, errors.New("service: a client CA (--tls-client-ca) needs the server's certificate and key (--tls-cert, --tls-key)")
		}
		return nil, nil
	}
	if c.TLSCert == "" || c.TLSKey == "" {
		return nil, errors.New("service: TLS needs both the certificate (--tls-cert) and its key (--tls-key)")
	}
	tc, err := tlsca.ServerConfig(c.TLSCert, c.TLSKey, c.TLSClientCA)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return tc, nil
}

// connTLS returns the TLS options of the broker's own NATS connection.
// With the embedded server it trusts the server's own certificate unless
// told otherwise, and presents the certificate "brokerctl init --tls" issued
// when the server requires one.
func (c *Config) connTLS(embedded bool) ([]nats.Option, error) {
	ca, cert, key := c.TLSCA, c.TLSClientCert, c.TLSClientKey
	if embedded && c.TLSCert != "" {
		if ca == "" {
			ca = c.TLSCert
		}
		if cert == "" && key == "" && c.TLSClientCA != "" {
			cert, key = TLSPath(c.DataDir, tlsca.BrokerCertFile), TLSPath(c.DataDir, tlsca.BrokerKeyFile)
			if _, err := os.Stat(cert); err != nil {
				return nil, fmt.Errorf("service: the server requires client certificates and the broker has none: pass --tls-client-cert and --tls-client-key, or run brokerctl init --tls: %w", err)
			}
		}
	}
	opts, err := tlsca.NATSOptions(ca, cert, key)
	if err != nil {
		return nil, fmt.Errorf("service: the broker's client certificate (--tls-client-cert, --tls-client-key): %w", err)
	}
	return opts, nil
}

// dialable returns the URL the broker itself uses for the embedded server:
// one listening on every interface is reached on loopback, a name its
// certificate covers.
func dialable(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	host, port, err := net.SplitHostPort(p.Host)
	if err != nil {
		return u
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		p.Host = net.JoinHostPort("127.0.0.1", port)
	}
	return p.String()
}
