package envelope

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"filippo.io/age"
)

var benchMeta = bytes.Repeat([]byte("m"), 1024)

func benchFixtures(b *testing.B) []fixture {
	x, pq := fixtures(b)
	return []fixture{x, pq}
}

func benchEnvelope(b *testing.B, f fixture) *Envelope {
	sealed, err := Seal(testHeader(), benchMeta, f.broker, testPayload, f.recipient, f.priv)
	if err != nil {
		b.Fatal(err)
	}
	return mustParse(b, sealed)
}

func BenchmarkSeal(b *testing.B) {
	for _, f := range benchFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			h := testHeader()
			for b.Loop() {
				if _, err := Seal(h, benchMeta, f.broker, testPayload, f.recipient, f.priv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, f := range benchFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			e := benchEnvelope(b, f)
			b.SetBytes(int64(len(e.Raw())))
			for b.Loop() {
				if err := e.Verify(f.pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpenMeta(b *testing.B) {
	for _, f := range benchFixtures(b) {
		b.Run(f.name, func(b *testing.B) {
			e := benchEnvelope(b, f)
			if err := e.Verify(f.pub); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(benchMeta)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.OpenMeta(f.brokerID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenPayload is what a recipient pays to read a payload, at the
// sizes cmd/loadgen sends (1 KiB to 256 KiB: up to four age chunks).
func BenchmarkOpenPayload(b *testing.B) {
	_, f := fixtures(b)
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			payload := bytes.Repeat([]byte("p"), size)
			sealed, err := Seal(testHeader(), benchMeta, f.broker, payload, f.recipient, f.priv)
			if err != nil {
				b.Fatal(err)
			}
			e := mustParse(b, sealed)
			if err := e.Verify(f.pub); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.OpenPayload(f.recipientID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMetaSessionKey weighs a per-sender session key for the policy
// metadata against today's age encryption of each message's metadata to the
// broker. "per-message" is OpenMeta as the broker runs it (one age
// decryption, with the hybrid ML-KEM-768 + X25519 key and with X25519).
// "session-setup" is what a session would cost once: one age decryption of a
// 32-byte key. "session-message" is then the cost of each message: one
// AES-256-GCM open of the metadata with the message id as additional data.
// The signature is per message either way (BenchmarkVerify), as it is the
// evidence.
func BenchmarkMetaSessionKey(b *testing.B) {
	for _, f := range benchFixtures(b) {
		b.Run("per-message/"+f.name, func(b *testing.B) {
			e := benchEnvelope(b, f)
			if err := e.Verify(f.pub); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.OpenMeta(f.brokerID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("session-setup/"+f.name, func(b *testing.B) {
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				b.Fatal(err)
			}
			var wrapped bytes.Buffer
			w, err := age.Encrypt(&wrapped, f.broker)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(key); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				r, err := age.Decrypt(bytes.NewReader(wrapped.Bytes()), f.brokerID)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadAll(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("session-message", func(b *testing.B) {
		key := make([]byte, 32)
		nonce := make([]byte, 12)
		if _, err := rand.Read(key); err != nil {
			b.Fatal(err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			b.Fatal(err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			b.Fatal(err)
		}
		id := []byte(NewID())
		ct := aead.Seal(nil, nonce, benchMeta, id)
		for b.Loop() {
			if _, err := aead.Open(nil, nonce, ct, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}
