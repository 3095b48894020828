package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Files the gateway keeps in the agency's home.
const (
	// TokenFile holds the bearer token of the default calling system,
	// written (mode 0600) on the gateway's first start.
	TokenFile = layout.GatewayTokenFile
	// ConfigFile is the gateway's configuration file, read when present.
	ConfigFile = layout.GatewayConfigFile
	// StateDir holds the gateway's own records: the messages it sent and
	// the idempotency keys they were sent under.
	StateDir = layout.GatewayDir
)

// DefaultSystem is the name of the calling system whose token is TokenFile.
const DefaultSystem = "default"

// Config says which agency the gateway acts for, where its keys and the
// broker are, and who may call it.
type Config struct {
	// Agency is the agency's id in the directory.
	Agency string
	// Home is the agency's home: its keys, its pseudonym key, its inbox and
	// the gateway's own records (see FindHome).
	Home string
	// DirectoryFile is the agency directory (directory.yaml).
	DirectoryFile string
	// NATSURL is the broker's NATS server.
	NATSURL string
	// TLSCA is the CA of the broker's NATS certificate, when it requires
	// TLS; TLSCert and TLSKey are the agency's client certificate and key
	// (found in Home when empty).
	TLSCA, TLSCert, TLSKey string
	// File is the content of the gateway's configuration file.
	File FileConfig
	// Desk, when set, is served under /desk/ without the API's
	// authentication: it signs its officials in itself. It is given each
	// request with its whole path (/desk/…).
	Desk http.Handler
	// NewDesk, when set and Desk is not, makes the desk once the gateway
	// is connected, for a desk that acts through the gateway's connection
	// (Server.Agency) and inbox (Server.Inbox).
	NewDesk func(*Server) (http.Handler, error)
	// ReceiptWait is how long POST /v1/messages waits for the broker's
	// decision before it answers 202; zero means defaults.AckWait.
	ReceiptWait time.Duration
	// MaxBody is the largest request body accepted, in bytes; zero means
	// defaults.GatewayMaxBody.
	MaxBody int64
	// Logger receives the gateway's log; nil means slog.Default(). It never
	// gets a payload or claim, only ids, kinds, outcomes and system names.
	Logger *slog.Logger
}

// FileConfig is the gateway's configuration file (YAML or JSON), by
// default gateway.yaml in the agency's home:
//
//	listen: 127.0.0.1:8090          # optional; --listen wins
//	systems:                        # the calling systems besides "default" (gateway.token)
//	  - name: procapita
//	    token_sha256: 9f86d0…       # hex SHA-256 of the system's bearer token
//	  - name: skolsystem
//	    token_file: /etc/sekretess/skolsystem.token
//	  - name: ekonomi
//	    client_cert_sha256: 3b1c…   # hex SHA-256 of the client certificate (DER)
//	https:                          # serve HTTPS instead of HTTP
//	  cert: server.crt
//	  key: server.key
//	  client_ca: ca.crt             # optional: verify client certificates against it
//	webhook:
//	  url: https://case-system.example/sekretess
//	  secret_file: webhook.secret   # HMAC-SHA256 key
//
// Relative file names are relative to the configuration file's folder.
type FileConfig struct {
	Listen  string         `json:"listen,omitempty"`
	Systems []SystemConfig `json:"systems,omitempty"`
	HTTPS   *HTTPSConfig   `json:"https,omitempty"`
	Webhook *WebhookConfig `json:"webhook,omitempty"`
	// Users and Desk are the web desk's settings (its officials, and how
	// they sign in), kept as they are for the desk to read.
	Users json.RawMessage `json:"users,omitempty"`
	Desk  json.RawMessage `json:"desk,omitempty"`
}

// SystemConfig is one calling system: a case-management system that may
// call the API. It authenticates with a bearer token or a client
// certificate.
type SystemConfig struct {
	// Name identifies the system in the log and in the messages' records.
	Name string `json:"name"`
	// TokenSHA256 is the hex SHA-256 of its bearer token.
	TokenSHA256 string `json:"token_sha256,omitempty"`
	// TokenFile is a file holding its bearer token.
	TokenFile string `json:"token_file,omitempty"`
	// ClientCertSHA256 is the hex SHA-256 of its TLS client certificate
	// (DER), for a gateway serving HTTPS.
	ClientCertSHA256 string `json:"client_cert_sha256,omitempty"`
}

// HTTPSConfig makes the gateway serve HTTPS.
type HTTPSConfig struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	// ClientCA, when set, is the CA client certificates must chain to;
	// without it a client certificate is accepted only by its pinned
	// SHA-256.
	ClientCA string `json:"client_ca,omitempty"`
}

// WebhookConfig makes the gateway POST every event to URL, signed with
// HMAC-SHA256 under the secret (see the Sekretess-Signature header in
// openapi.yaml).
type WebhookConfig struct {
	URL string `json:"url"`
	// SecretFile holds the HMAC key; Secret is the key itself, for tests.
	SecretFile string `json:"secret_file,omitempty"`
	Secret     string `json:"secret,omitempty"`
}

var systemName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// LoadFileConfig reads a configuration file, YAML or JSON, and makes its
// relative file names relative to the file's folder. Unknown fields are an
// error, so that a misspelt setting is not silently ignored.
func LoadFileConfig(path string) (FileConfig, error) {
	var fc FileConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return fc, fmt.Errorf("gateway: configuration: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &fc); err != nil {
		return fc, fmt.Errorf("gateway: configuration %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range fc.Systems {
		abs(&fc.Systems[i].TokenFile)
	}
	if fc.HTTPS != nil {
		abs(&fc.HTTPS.Cert)
		abs(&fc.HTTPS.Key)
		abs(&fc.HTTPS.ClientCA)
	}
	if fc.Webhook != nil {
		abs(&fc.Webhook.SecretFile)
	}
	return fc, nil
}

// FindHome returns agency id's home and the agency directory for the data
// folder data, in the layouts "brokerctl demo" and "make run" create:
//
//   - data/agencies/<id>, when it holds the agency's keys: the older layout,
//     or data given as the folder that holds both data/ and agencies/;
//   - agencies/<id> beside data (layout.AgencyHomes), where "brokerctl demo
//     --data DIR" puts the homes by default.
//
// The directory is data/directory.yaml, or data/data/directory.yaml when
// data is the folder above the broker's. keysDir and dirFile, when not
// empty, are used as they are.
func FindHome(data, id, keysDir, dirFile string) (home, directoryFile string, err error) {
	home = keysDir
	if home == "" {
		inside := layout.AgencyKeys(data, id)
		beside := layout.AgencyHome(layout.AgencyHomes(data), id)
		switch {
		case exists(filepath.Join(inside, keys.SigningKeyFile)):
			home = inside
		case exists(filepath.Join(beside, keys.SigningKeyFile)):
			home = beside
		default:
			return "", "", fmt.Errorf("gateway: the keys of %s are neither in %s nor in %s; give the agency's home with --keys: %w",
				id, inside, beside, fs.ErrNotExist)
		}
	}
	directoryFile = dirFile
	if directoryFile == "" {
		directoryFile = layout.Directory(data)
		if below := layout.Directory(filepath.Join(data, "data")); !exists(directoryFile) && exists(below) {
			directoryFile = below
		}
	}
	return home, directoryFile, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// EnsureToken returns the default system's bearer token from home's
// TokenFile, writing a new random one (mode 0600) on the first start.
func EnsureToken(home string) (token string, created bool, err error) {
	path := layout.HomeGatewayToken(home)
	b, err := os.ReadFile(path)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if len(t) < 16 {
			return "", false, fmt.Errorf("gateway: %s holds no token of at least 16 characters; remove it to have a new one made", path)
		}
		return t, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("gateway: token: %w", err)
	}
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", false, fmt.Errorf("gateway: token: %w", err)
	}
	t := hex.EncodeToString(r[:])
	if err := safefile.Create(path, []byte(t+"\n"), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another start made it meanwhile: use that one.
			return EnsureToken(home)
		}
		return "", false, fmt.Errorf("gateway: token: %w", err)
	}
	return t, true, nil
}

// system is a calling system as the server checks it.
type system struct {
	name     string
	tokenSum []byte // SHA-256 of the bearer token
	certSum  []byte // SHA-256 of the client certificate
}

// systems turns the configuration's systems and the default token into the
// list the server authenticates against.
func systems(home string, fc FileConfig) ([]system, error) {
	tok, _, err := EnsureToken(home)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(tok))
	out := []system{{name: DefaultSystem, tokenSum: sum[:]}}
	seen := map[string]bool{DefaultSystem: true}
	for _, sc := range fc.Systems {
		if !systemName.MatchString(sc.Name) {
			return nil, fmt.Errorf("gateway: system name %q: use 1-64 letters, digits, '.', '_' or '-'", sc.Name)
		}
		if seen[sc.Name] {
			return nil, fmt.Errorf("gateway: system %q is listed twice (%q is the token in %s)", sc.Name, DefaultSystem, TokenFile)
		}
		seen[sc.Name] = true
		s := system{name: sc.Name}
		n := 0
		if sc.TokenSHA256 != "" {
			n++
			if s.tokenSum, err = hexSum(sc.TokenSHA256); err != nil {
				return nil, fmt.Errorf("gateway: system %s: token_sha256: %w", sc.Name, err)
			}
		}
		if sc.TokenFile != "" {
			n++
			b, err := os.ReadFile(sc.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("gateway: system %s: %w", sc.Name, err)
			}
			t := strings.TrimSpace(string(b))
			if len(t) < 16 {
				return nil, fmt.Errorf("gateway: system %s: %s holds no token of at least 16 characters", sc.Name, sc.TokenFile)
			}
			sum := sha256.Sum256([]byte(t))
			s.tokenSum = sum[:]
		}
		if sc.ClientCertSHA256 != "" {
			if s.certSum, err = hexSum(sc.ClientCertSHA256); err != nil {
				return nil, fmt.Errorf("gateway: system %s: client_cert_sha256: %w", sc.Name, err)
			}
		}
		if n > 1 {
			return nil, fmt.Errorf("gateway: system %s: give token_sha256 or token_file, not both", sc.Name)
		}
		if s.tokenSum == nil && s.certSum == nil {
			return nil, fmt.Errorf("gateway: system %s has neither a token nor a client certificate", sc.Name)
		}
		out = append(out, s)
	}
	return out, nil
}

func hexSum(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%q is not a SHA-256 in hex (64 hex digits)", s)
	}
	return b, nil
}

// authenticate returns the system that made r, by its bearer token or its
// client certificate, or "" for none.
func authenticate(list []system, r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		name := ""
		// Every entry is compared, in constant time, so that the time taken
		// tells nothing about which token came close.
		for _, s := range list {
			if s.tokenSum != nil && subtle.ConstantTimeCompare(s.tokenSum, sum[:]) == 1 {
				name = s.name
			}
		}
		return name
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		for _, s := range list {
			if s.certSum != nil && subtle.ConstantTimeCompare(s.certSum, sum[:]) == 1 {
				return s.name
			}
		}
	}
	return ""
}
