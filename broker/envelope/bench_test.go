package envelope

import (
	"bytes"
	"testing"
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
			for b.Loop() {
				if _, err := e.OpenMeta(f.brokerID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
