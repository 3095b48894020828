package audit

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkAppend compares, in one run against one embedded server, audit
// appends (sealed personal fields, PubAck, dedupe id) with raw JetStream
// publishes of records of the same size to a plain file-backed stream. Both
// run 16 publishers per CPU, as the pipeline's workers do.
func BenchmarkAppend(b *testing.B) {
	ns := startServer(b, b.TempDir())
	js := connect(b, ns.ClientURL())
	k := newKeyPair(b)
	l := openLog(b, js, k, newAuditor(b).Recipient())
	var seq atomic.Int64
	now := time.Now()
	ctx := ctxT(b)
	sample, _ := json.Marshal(newEntry(rec(1, now)))

	b.Run("audit-append", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(seq.Add(1))
				if _, err := l.Append(ctx, rec(i, now), personal(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("audit-append-no-personal", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(seq.Add(1))
				if _, err := l.Append(ctx, rec(i, now), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("raw-jetstream", func(b *testing.B) {
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: "RAW", Subjects: []string{"raw"}, Storage: jetstream.FileStorage,
		}); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := js.Publish(ctx, "raw", sample); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	// The same with a dedupe id per message, as audit records have.
	b.Run("raw-jetstream-msgid", func(b *testing.B) {
		var id atomic.Int64
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				msgID := "m-" + strconv.FormatInt(id.Add(1), 10)
				if _, err := js.Publish(ctx, "raw", sample, jetstream.WithMsgID(msgID)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
