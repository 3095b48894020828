// Package layout names the files and folders of a data directory, the one
// place the broker, brokerctl and the agencies' clients agree on where
// things are:
//
//	<data>/directory.yaml          the agency directory
//	<data>/broker/                 the broker's keys
//	<data>/broker/ops.token        the operators' bearer token for the dashboard (0600)
//	<data>/broker/tls/             the private CA and certificates of "brokerctl init --tls"
//	<data>/jetstream/              the embedded NATS server's files, the audit log among them
//
// An agency keeps its private keys in its own home, never in the broker's
// data directory. "brokerctl agency keygen --out HOME" makes one anywhere;
// "brokerctl demo" and "agency new" put the homes side by side in a folder
// of their own (AgencyHomes, ./agencies beside ./data):
//
//	<agencies>/<id>/               agency id's home: signing.key, age.key, nats.nk, request.json
//	<agencies>/<id>/pseudonym.key  its copy of the deployment's pseudonym secret
//	<agencies>/<id>/inbox/         the messages its clients received
//	<agencies>/<id>/tls.crt, .key  its TLS client certificate, when the broker requires TLS
//	<agencies>/<id>/gateway.token  the token of its gateway's default calling system (0600)
//	<agencies>/<id>/gateway.yaml   its gateway's configuration, when it has one
//	<agencies>/<id>/gateway/       its gateway's records of the messages it sent
//	<agencies>/pseudonym.key       the deployment's pseudonym secret the copies come from
//
// Data directories made before agencies had homes keep theirs inside, in
// <data>/agencies/<id>/ (AgencyKeys), with the pseudonym secret in
// <data>/pseudonym.key; the clients read that layout when given no home.
//
// The names of the key files inside a key folder belong to package keys.
// This package depends on nothing but path/filepath, so that any program can
// find its files without pulling in the broker.
package layout

import "path/filepath"

// Names in a data directory.
const (
	DirectoryFile    = "directory.yaml"
	PseudonymKeyFile = "pseudonym.key"
	BrokerDir        = "broker"
	AgenciesDir      = "agencies"
	InboxDir         = "inbox"
	JetStreamDir     = "jetstream"
	TLSDir           = "tls"
	OpsTokenFile     = "ops.token"
)

// Directory returns the path of the agency directory in data.
func Directory(data string) string { return filepath.Join(data, DirectoryFile) }

// PseudonymKey returns the path of the deployment's pseudonym secret in a
// data directory of the older layout, or, given a folder of agency homes,
// the one their copies come from. Each agency gets a copy in its home.
func PseudonymKey(data string) string { return filepath.Join(data, PseudonymKeyFile) }

// BrokerKeys returns the folder of the broker's keys in data.
func BrokerKeys(data string) string { return filepath.Join(data, BrokerDir) }

// OpsToken returns the path of the operators' bearer token in data, which
// the broker's HTTP listener asks for before it shows the dashboard.
func OpsToken(data string) string { return filepath.Join(data, BrokerDir, OpsTokenFile) }

// AgencyKeys returns the folder of agency id's keys inside data, in the
// older layout: the clients' default home when they are given none.
func AgencyKeys(data, id string) string { return filepath.Join(data, AgenciesDir, id) }

// Inbox returns the folder where agency id's clients keep the messages they
// received, in the older layout; see HomeInbox.
func Inbox(data, id string) string { return HomeInbox(AgencyKeys(data, id)) }

// AgencyHomes returns the folder of agency homes that "brokerctl demo" and
// "agency new" use by default: "agencies" beside data, so that ./data gets
// ./agencies and the broker's folder holds no agency's private key.
func AgencyHomes(data string) string { return filepath.Join(data, "..", AgenciesDir) }

// AgencyHome returns agency id's home in a folder of agency homes.
func AgencyHome(agencies, id string) string { return filepath.Join(agencies, id) }

// HomeInbox returns the folder where the clients of the agency whose home
// is home keep the messages they received.
func HomeInbox(home string) string { return filepath.Join(home, InboxDir) }

// HomePseudonymKey returns the agency's copy of the pseudonym secret in its
// home.
func HomePseudonymKey(home string) string { return filepath.Join(home, PseudonymKeyFile) }

// JetStream returns the embedded NATS server's storage folder in data.
func JetStream(data string) string { return filepath.Join(data, JetStreamDir) }

// TLS returns the folder of the private CA and the certificates that
// "brokerctl init --tls" creates, inside the broker's key folder.
func TLS(data string) string { return filepath.Join(data, BrokerDir, TLSDir) }

// Names in an agency's home that its gateway (cmd/gateway) uses.
const (
	GatewayTokenFile  = "gateway.token"
	GatewayConfigFile = "gateway.yaml"
	GatewayDir        = "gateway"
)

// HomeGatewayToken returns the file in an agency's home that holds the
// bearer token of its gateway's default calling system.
func HomeGatewayToken(home string) string { return filepath.Join(home, GatewayTokenFile) }

// HomeGatewayConfig returns the default configuration file of an agency's
// gateway.
func HomeGatewayConfig(home string) string { return filepath.Join(home, GatewayConfigFile) }

// HomeGateway returns the folder where an agency's gateway keeps its
// records of the messages it sent and the idempotency keys they came with.
func HomeGateway(home string) string { return filepath.Join(home, GatewayDir) }
