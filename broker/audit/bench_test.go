package audit

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"sync"
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

// BenchmarkOpen measures what a broker pays at start for a log that already
// holds records: one open of a log of 10,000 and of 100,000 records, each
// closed before (so its last snapshot is at its end), and the heap the
// opened log keeps. The open reads the latest snapshot and the records after
// it, never the whole log, so its time does not grow with the log.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run("records="+strconv.Itoa(n), func(b *testing.B) { benchmarkOpen(b, n) })
	}
}

func benchmarkOpen(b *testing.B, n int) {
	ns := startServer(b, b.TempDir())
	js := connect(b, ns.ClientURL())
	k := newKeyPair(b)
	l := openLog(b, js, k)
	var seq atomic.Int64
	now := time.Now()
	ctx := ctxT(b)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(seq.Add(1)); i <= n; i = int(seq.Add(1)) {
				if _, err := l.Append(ctx, rec(i, now), nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	l.Close()
	// stopped is closed once the last closed log's consumer has stopped: its
	// subscription ends asynchronously, and what it frees must not count
	// against the next.
	stopped := l.cc.Closed()
	l = nil
	heap := func() uint64 {
		var m runtime.MemStats
		select {
		case <-stopped:
		case <-ctx.Done():
			b.Fatal("a closed log's consumer did not stop")
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var held float64
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		before := heap()
		b.StartTimer()
		o, err := Open(ctx, Config{JetStream: js, Signer: k.signer, CheckpointInterval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if size, _ := o.Head(); size != int64(n) {
			b.Fatalf("opened %d records, want %d", size, n)
		}
		// The opened log finds a record from the start of the log.
		if r, err := o.BySeq(ctx, 1, fmt.Sprintf("%032x", 1)); err != nil || r == nil {
			b.Fatalf("first record not found after open: %v", err)
		}
		after := heap()
		runtime.KeepAlive(o)
		// Memory freed meanwhile elsewhere in the process can only lower
		// a sample, so the largest is the closest.
		held = max(held, float64(after)-float64(before))
		o.Close()
		stopped = o.cc.Closed()
		b.StartTimer()
	}
	b.ReportMetric(held, "heap-B/open")
}
