package tlsca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files in a TLS directory as Init writes it: <data>/broker/tls/.
const (
	CAFile         = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	BrokerCertFile = "broker.crt"
	BrokerKeyFile  = "broker.key"
	RouteCertFile  = "route.crt"
	RouteKeyFile   = "route.key"
)

// Files of an agency's client certificate in its key directory.
const (
	ClientCertFile = "tls.crt"
	ClientKeyFile  = "tls.key"
)

// BrokerName is the common name of the broker's client certificate.
const BrokerName = "broker"

// RouteName is the common name of the certificate NATS cluster nodes present
// to each other; a node accepts a route only from that name (see
// deploy/nats/node.conf), so an agency's certificate cannot open one.
const RouteName = "nats-route"

// Init creates, in dir, a CA, a server certificate for hosts (none means
// DefaultHosts), the broker's client certificate and the cluster routes'
// certificate. It refuses to run when dir already holds a CA, so a CA is
// never replaced behind the back of those who trust it.
func Init(dir string, hosts []string) (*CA, error) {
	if _, err := os.Stat(filepath.Join(dir, CAFile)); err == nil {
		return nil, fmt.Errorf("tlsca: %s already holds a CA; move the directory away to start over: %w", dir, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	ca, err := New("sekretessbroker CA")
	if err != nil {
		return nil, err
	}
	if err := ca.Write(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)); err != nil {
		return nil, err
	}
	issue := []struct {
		cert, key string
		pair      func() (*Pair, error)
	}{
		{ServerCertFile, ServerKeyFile, func() (*Pair, error) { return ca.IssueServer("sekretessbroker NATS", hosts...) }},
		{BrokerCertFile, BrokerKeyFile, func() (*Pair, error) { return ca.IssueClient(BrokerName) }},
		{RouteCertFile, RouteKeyFile, func() (*Pair, error) { return ca.IssueServer(RouteName, hosts...) }},
	}
	for _, f := range issue {
		p, err := f.pair()
		if err != nil {
			return nil, err
		}
		if err := p.Write(filepath.Join(dir, f.cert), filepath.Join(dir, f.key)); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

// LoadDir loads the CA Init wrote in dir.
func LoadDir(dir string) (*CA, error) {
	return Load(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
}
