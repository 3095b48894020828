package audit

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

// WitnessState is what a witness keeps of the last checkpoint it cosigned
// (the state file of NewWitness). An auditor who holds a copy can check that
// the log still contains what the witness saw.
type WitnessState struct {
	Origin string    `json:"origin"`
	Size   int64     `json:"size"`
	Root   tlog.Hash `json:"root"`
}

// ReadWitnessState reads a witness's state file.
func ReadWitnessState(path string) (WitnessState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return WitnessState{}, fmt.Errorf("audit: witness state: %w", err)
	}
	var st WitnessState
	if err := json.Unmarshal(b, &st); err != nil || st.Size < 0 {
		return WitnessState{}, fmt.Errorf("audit: witness state %s is not a witness's state file (brokerctl audit witness --state): %v", path, err)
	}
	return st, nil
}

// CheckWitnessState checks that the log in ex still holds the history a
// witness cosigned: at least st.Size records, whose tree hash at that size is
// st.Root. origin is the log's name from its checkpoints, "" if unknown. A
// log cut short together with its checkpoints passes Verify but fails here.
func CheckWitnessState(ex *Export, origin string, st WitnessState) error {
	if origin != "" && st.Origin != "" && st.Origin != origin {
		return fmt.Errorf("audit: the witness state is for log %q, not %q", st.Origin, origin)
	}
	t, err := buildTree(ex)
	if err != nil {
		return err
	}
	if t.n < st.Size {
		return &VerifyError{Position: t.n + 1, Reason: fmt.Sprintf(
			"missing: the log ends after %d records but a witness cosigned a checkpoint of %d (records were cut off)", t.n, st.Size)}
	}
	root, err := t.root(st.Size)
	if err != nil {
		return err
	}
	if root != st.Root {
		return &VerifyError{Position: 1, Reason: fmt.Sprintf(
			"the tree over the first %d records does not match the checkpoint a witness cosigned: the log was rewritten", st.Size)}
	}
	return nil
}
