package service_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamState describes the broker's streams and consumers, to explain a
// test that waited in vain.
func streamState(w *world) string {
	opt, _ := nats.NkeyOptionFromSeed(filepath.Join(w.data, "broker", "nats.nk"))
	nc, err := nats.Connect("nats://"+w.listen, opt)
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	out := ""
	for _, s := range []string{"SEKRETESS_IN", "SEKRETESS_OUT", "SEKRETESS_RECEIPTS"} {
		st, err := js.Stream(context.Background(), s)
		if err != nil {
			out += err.Error()
			continue
		}
		i, _ := st.Info(context.Background())
		out += fmt.Sprintf("%s msgs=%d\n", s, i.State.Msgs)
		l := st.ListConsumers(context.Background())
		for c := range l.Info() {
			out += fmt.Sprintf("  %s pending=%d ackpending=%d delivered=%d waiting=%d\n", c.Name, c.NumPending, c.NumAckPending, c.Delivered.Consumer, c.NumWaiting)
		}
	}
	return out
}
