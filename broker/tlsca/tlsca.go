// Package tlsca is a small private certificate authority for NATS over TLS:
// it creates a CA, issues the server's certificate and client certificates
// for mutual TLS (the broker and each agency, named by their id), and builds
// the *tls.Config of either side from PEM files.
//
// It is meant for tests, demos and small deployments. An organisation with a
// PKI of its own issues the same files there; nothing else in the broker
// depends on this package having made them.
//
// It uses the standard library only, so clients may import it without
// pulling in the server.
package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Validity of what the CA issues. The CA outlives its certificates so that
// reissuing a certificate never means redistributing the CA file.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 2 * 365 * 24 * time.Hour
)

// DefaultHosts are the names a server certificate covers when none are given:
// the loopback addresses the embedded server listens on by default.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// CA is a certificate authority: its certificate and private key.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// Pair is an issued certificate and its private key, both PEM encoded.
type Pair struct {
	CertPEM, KeyPEM []byte
}

// New creates a CA whose certificate is named name.
func New(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour), // tolerate clocks a little behind
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	return &CA{Cert: cert, key: key}, nil
}

// Load reads a CA from its certificate and key files.
func Load(certFile, keyFile string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsca: load CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tlsca: load CA: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("tlsca: %s is not a CA certificate", certFile)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tlsca: %s: the key cannot sign", keyFile)
	}
	return &CA{Cert: cert, key: key}, nil
}

// CertPEM returns the CA's certificate, the file both sides trust.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Write writes the CA's certificate to certFile and its key to keyFile (mode
// 0600). It refuses to overwrite either.
func (ca *CA) Write(certFile, keyFile string) error {
	kp, err := encodeKey(ca.key)
	if err != nil {
		return err
	}
	return (&Pair{CertPEM: ca.CertPEM(), KeyPEM: kp}).Write(certFile, keyFile)
}

// IssueServer issues a server certificate for hosts, DNS names or IP
// addresses; none means DefaultHosts. It also allows client authentication,
// so that NATS cluster nodes can present it on the routes they open.
func (ca *CA) IssueServer(name string, hosts ...string) (*Pair, error) {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	tmpl := ca.template(name, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl)
}

// IssueClient issues a client certificate whose common name is id: "broker"
// for the broker, the agency's id for an agency.
func (ca *CA) IssueClient(id string) (*Pair, error) {
	if id == "" {
		return nil, errors.New("tlsca: a client certificate needs a name")
	}
	return ca.issue(ca.template(id, x509.ExtKeyUsageClientAuth))
}

func (ca *CA) template(cn string, usage ...x509.ExtKeyUsage) *x509.Certificate {
	now := time.Now()
	notAfter := now.Add(CertValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	return &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
}

func (ca *CA) issue(tmpl *x509.Certificate) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: issue %s: %w", tmpl.Subject.CommonName, err)
	}
	kp, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Pair{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: kp}, nil
}

// Write writes the certificate to certFile (mode 0644) and the key to keyFile
// (mode 0600), creating their directories with mode 0700. It refuses to
// overwrite either file, so a key is never silently replaced.
func (p *Pair) Write(certFile, keyFile string) error {
	if err := writeNew(keyFile, p.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certFile, p.CertPEM, 0o644); err != nil {
		os.Remove(keyFile) // a key without its certificate is of no use
		return err
	}
	return nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

// writeNew creates path with mode perm and never replaces a file: a
// certificate or key replaced by accident would lock every client out.
func writeNew(path string, data []byte, perm os.FileMode) error {
	err := safefile.Create(path, data, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("tlsca: %s already exists; refusing to overwrite it (move it away first to replace it): %w", path, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("tlsca: %w", err)
	}
	return nil
}

// MinVersion is the oldest TLS version either side accepts. Every client of
// the broker is recent (nats.go, the nats CLI, nats-server routes).
const MinVersion = tls.VersionTLS13

// ServerConfig returns the server's TLS configuration from its certificate
// and key files. With clientCAFile every client must present a certificate
// issued by that CA (mutual TLS); without it any client may connect.
func ServerConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsca: server certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: MinVersion}
	if clientCAFile != "" {
		pool, err := Pool(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig returns a client's TLS configuration: it trusts the servers
// whose certificates caFile's CAs issued and, given certFile and keyFile,
// presents that certificate for mutual TLS.
func ClientConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := Pool(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: MinVersion}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsca: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Pool reads the PEM certificates of file into a pool.
func Pool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsca: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tlsca: %s holds no PEM certificate", file)
	}
	return pool, nil
}
