package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// tree is the Merkle tree (RFC 6962 hashing) over records in stream order,
// held as tlog's stored hashes: about two hashes per record.
type tree struct {
	n      int64
	hashes []tlog.Hash
}

// add appends one record's leaf.
func (t *tree) add(data []byte) error {
	hs, err := tlog.StoredHashes(t.n, data, t)
	if err != nil {
		return fmt.Errorf("audit: tree: %w", err)
	}
	t.hashes = append(t.hashes, hs...)
	t.n++
	return nil
}

// ReadHashes implements tlog.HashReader.
func (t *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("audit: tree: hash %d not stored (tree size %d)", x, t.n)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

// root returns the tree hash of the first n records.
func (t *tree) root(n int64) (tlog.Hash, error) {
	if n == 0 {
		return tlog.Hash{}, nil
	}
	return tlog.TreeHash(n, t)
}
