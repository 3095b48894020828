package envelope

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

func FuzzParse(f *testing.F) {
	x, pq := fixtures(f)
	h := testHeader()
	f.Add(seal(f, x, h))
	f.Add(seal(f, pq, h))
	h.ReplyTo = NewID()
	f.Add(seal(f, x, h))
	h.Version, h.Kid = 2, testKid
	f.Add(seal(f, pq, h))
	f.Add(sealTo(f, []fixture{x, rotated(f, x)}, h))
	f.Add([]byte("SKB\x01"))
	f.Add([]byte("SKB\x02"))
	f.Add([]byte("SKB\x01\x00\x02{}\x00\x00\x00\x01a\x00\x00\x00\x01b"))

	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b, 0)
		if err != nil {
			if Code(err) == errcode.Internal {
				t.Fatalf("Parse error without a code: %v", err)
			}
			return
		}
		if !bytes.Equal(e.Raw(), b) {
			t.Fatal("Raw differs from input")
		}
		// The sections must tile the input exactly: reassembling them
		// gives back the input byte for byte.
		hlen := binary.BigEndian.Uint16(b[4:])
		var re []byte
		re = append(re, b[:6+hlen]...)
		re = binary.BigEndian.AppendUint32(re, uint32(len(e.Meta)))
		re = append(re, e.Meta...)
		re = binary.BigEndian.AppendUint32(re, uint32(len(e.Payload)))
		re = append(re, e.Payload...)
		re = append(re, e.Signature...)
		if !bytes.Equal(re, b) {
			t.Fatal("sections do not reassemble to the input")
		}
		if err := e.Header.Validate(); err != nil {
			t.Fatalf("parsed header does not validate: %v", err)
		}
		if err := e.Verify(x.pub); err != nil {
			return
		}
		// Only the seeds get here; make sure opening them stays sound.
		if _, err := e.OpenMeta(x.brokerID); err != nil && Code(err) == errcode.Internal {
			t.Fatalf("OpenMeta error without a code: %v", err)
		}
		if _, err := e.OpenPayload(x.recipientID, pq.recipientID); err != nil && Code(err) == errcode.Internal {
			t.Fatalf("OpenPayload error without a code: %v", err)
		}
	})
}
