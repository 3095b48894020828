package tlsca_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

func TestInitWritesKeysPrivately(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := tlsca.Init(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{tlsca.CAKeyFile, tlsca.ServerKeyFile, tlsca.BrokerKeyFile, tlsca.RouteKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if _, err := tlsca.Init(dir, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a second Init in the same directory: %v, want fs.ErrExist", err)
	}
	ca, err := tlsca.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.IssueClient("polisen-syd")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Write(filepath.Join(dir, "a.crt"), filepath.Join(dir, tlsca.BrokerKeyFile)); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwriting a key: %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused write left the certificate behind: %v", err)
	}
}

func TestIssuedCertificates(t *testing.T) {
	ca, err := tlsca.New("test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("srv", "nats-1", "10.0.0.7")
	if err != nil {
		t.Fatal(err)
	}
	c := parse(t, srv.CertPEM)
	if len(c.DNSNames) != 1 || c.DNSNames[0] != "nats-1" || len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) {
		t.Fatalf("server certificate names %v %v", c.DNSNames, c.IPAddresses)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "nats-1"}); err != nil {
		t.Fatalf("server certificate does not verify: %v", err)
	}
	cl, err := ca.IssueClient("soc-malmo")
	if err != nil {
		t.Fatal(err)
	}
	cc := parse(t, cl.CertPEM)
	if cc.Subject.CommonName != "soc-malmo" {
		t.Fatalf("client certificate for %q", cc.Subject.CommonName)
	}
	if _, err := cc.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Fatal("a client certificate verifies as a server's")
	}
	if _, err := ca.IssueClient(""); err == nil {
		t.Fatal("issued a client certificate without a name")
	}
}

// TestMutualTLS does real handshakes on loopback: the right client gets
// through, a client without a certificate or with one of another CA does
// not, nor does a client that does not trust the server's CA.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsca.Init(dir, nil); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := tlsca.Init(other, nil); err != nil {
		t.Fatal(err)
	}
	at := func(d, f string) string { return filepath.Join(d, f) }
	scfg, err := tlsca.ServerConfig(at(dir, tlsca.ServerCertFile), at(dir, tlsca.ServerKeyFile), at(dir, tlsca.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	if scfg.ClientAuth != tls.RequireAndVerifyClientCert || scfg.MinVersion < tls.VersionTLS12 {
		t.Fatalf("server config: client auth %v, min version %x", scfg.ClientAuth, scfg.MinVersion)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// The handshake's outcome reaches the client; the server side
			// only has to run it.
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	dial := func(caDir, certDir string) error {
		var cert, key string
		if certDir != "" {
			cert, key = at(certDir, tlsca.BrokerCertFile), at(certDir, tlsca.BrokerKeyFile)
		}
		ccfg, err := tlsca.ClientConfig(at(caDir, tlsca.CAFile), cert, key)
		if err != nil {
			return err
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
		if err != nil {
			return err
		}
		defer c.Close()
		// TLS 1.3 reports a rejected client certificate on the first read.
		_, err = c.Read(make([]byte, 1))
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}
	if err := dial(dir, dir); err != nil {
		t.Fatalf("the right CA and certificate: %v", err)
	}
	if err := dial(dir, ""); err == nil {
		t.Fatal("a client without a certificate got through")
	}
	if err := dial(dir, other); err == nil {
		t.Fatal("a client certificate of another CA got through")
	}
	if err := dial(other, dir); err == nil {
		t.Fatal("a client trusting another CA accepted the server")
	}
}

func parse(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
