// Package layout names the files and folders of a data directory, the one
// place the broker, brokerctl and the agencies' clients agree on where
// things are:
//
//	<data>/directory.yaml          the agency directory
//	<data>/pseudonym.key           the deployment's pseudonym secret (never read by the broker)
//	<data>/broker/                 the broker's keys
//	<data>/broker/tls/             the private CA and certificates of "brokerctl init --tls"
//	<data>/agencies/<id>/          agency id's keys
//	<data>/agencies/<id>/inbox/    the messages agency id's clients received
//	<data>/jetstream/              the embedded NATS server's files, the audit log among them
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
)

// Directory returns the path of the agency directory in data.
func Directory(data string) string { return filepath.Join(data, DirectoryFile) }

// PseudonymKey returns the path of the deployment's pseudonym secret in data;
// each agency gets a copy of it in its own key folder.
func PseudonymKey(data string) string { return filepath.Join(data, PseudonymKeyFile) }

// BrokerKeys returns the folder of the broker's keys in data.
func BrokerKeys(data string) string { return filepath.Join(data, BrokerDir) }

// AgencyKeys returns the folder of agency id's keys in data.
func AgencyKeys(data, id string) string { return filepath.Join(data, AgenciesDir, id) }

// Inbox returns the folder where agency id's clients keep the messages they
// received.
func Inbox(data, id string) string { return filepath.Join(data, AgenciesDir, id, InboxDir) }

// JetStream returns the embedded NATS server's storage folder in data.
func JetStream(data string) string { return filepath.Join(data, JetStreamDir) }

// TLS returns the folder of the private CA and the certificates that
// "brokerctl init --tls" creates, inside the broker's key folder.
func TLS(data string) string { return filepath.Join(data, BrokerDir, TLSDir) }
