package service

import (
	"os"
	"path/filepath"

	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// PseudonymKeyFile is the deployment's pseudonym secret in the data
// directory. The broker never reads it; each agency gets a copy with its keys.
const PseudonymKeyFile = pseudonym.KeyFile

// ensurePseudonymKey creates the pseudonym secret unless it exists; data
// directories made before it existed get one on the next agency.
func ensurePseudonymKey(dataDir string) error {
	path := filepath.Join(dataDir, PseudonymKeyFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return pseudonym.WriteKey(path)
}
