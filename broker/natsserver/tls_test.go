package natsserver_test

import (
	"bufio"
	"bytes"
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

// brokerUser returns a directory holding only the broker's keys, and the
// option that connects as the broker.
func brokerUser(t testing.TB) (*directory.Directory, nats.Option) {
	t.Helper()
	p := newParty(t, "broker")
	return newDirectory(t, p), nats.Nkey(p.nkey(t), p.kp.Sign)
}

func startWith(t *testing.T, cfg natsserver.Config) *natsserver.Server {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", -1
	s, err := natsserver.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// TestEncryptionAtRest stores a marker through JetStream and looks for it in
// every file under the data directory: found without a key, which shows the
// search works, and nowhere with one.
func TestEncryptionAtRest(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "encrypted"}[encrypted], func(t *testing.T) {
			data := t.TempDir()
			d, auth := brokerUser(t)
			cfg := natsserver.Config{DataDir: data, Directory: d}
			if encrypted {
				key, err := natsserver.EnsureKey(filepath.Join(t.TempDir(), natsserver.KeyFile))
				if err != nil {
					t.Fatal(err)
				}
				cfg.EncryptionKey = key
			}
			s := startWith(t, cfg)
			nc, err := nats.Connect(s.ClientURL(), auth)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}}); err != nil {
				t.Fatal(err)
			}
			const marker = "Gunhild-Xylofonsson-19121212"
			if _, err := js.Publish(ctx, "t", []byte("personnummer of "+marker)); err != nil {
				t.Fatal(err)
			}
			kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "consent"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, "k", []byte(marker)); err != nil {
				t.Fatal(err)
			}
			nc.Close()
			s.Shutdown() // flushes and closes every file
			found := filesContaining(t, data, marker)
			if encrypted && len(found) > 0 {
				t.Fatalf("the marker is in plaintext in %v", found)
			}
			if !encrypted && len(found) == 0 {
				t.Fatal("without a key the marker is in no file: the search finds nothing at all")
			}
		})
	}
}

func filesContaining(t *testing.T, root, s string) []string {
	t.Helper()
	var found []string
	files := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(s)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", root)
	}
	return found
}

func TestEnsureKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker", natsserver.KeyFile)
	k1, err := natsserver.EnsureKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || len(k1) != 64 {
		t.Fatalf("key file mode %v, key of %d characters", fi.Mode().Perm(), len(k1))
	}
	k2, err := natsserver.EnsureKey(path)
	if err != nil || k2 != k1 {
		t.Fatalf("second call: %q, %v; want the same key", k2, err)
	}
	if err := os.WriteFile(path, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := natsserver.EnsureKey(path); err == nil {
		t.Fatal("a damaged key file was accepted")
	}
}

// TestTLSRequired runs the server with mutual TLS and knocks on it as a
// plaintext client, as clients with the wrong or no certificate, and as the
// broker with and without its nkey.
func TestTLSRequired(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsca.Init(dir, nil); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := tlsca.Init(other, nil); err != nil {
		t.Fatal(err)
	}
	at := func(f string) string { return filepath.Join(dir, f) }
	tc, err := tlsca.ServerConfig(at(tlsca.ServerCertFile), at(tlsca.ServerKeyFile), at(tlsca.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	d, auth := brokerUser(t)
	s := startWith(t, natsserver.Config{DataDir: t.TempDir(), Directory: d, TLS: tc})
	if !strings.HasPrefix(s.ClientURL(), "tls://") {
		t.Fatalf("client URL %s", s.ClientURL())
	}
	addr := strings.TrimPrefix(s.ClientURL(), "tls://")

	t.Run("plaintext", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second)) // bounds a hang, asserts nothing
		r := bufio.NewReader(c)
		info, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, `"tls_required":true`) {
			t.Fatalf("INFO does not require TLS: %s", info)
		}
		if _, err := c.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
			return // refused already
		}
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // the server closed the connection: refused
			}
			if strings.HasPrefix(line, "PONG") {
				t.Fatal("the server answered a plaintext client")
			}
		}
	})
	connect := func(opts ...nats.Option) error {
		nc, err := nats.Connect(s.ClientURL(), append(opts, nats.NoReconnect(), nats.Timeout(20*time.Second))...)
		if err == nil {
			defer nc.Close()
			err = nc.Flush()
		}
		return err
	}
	cases := []struct {
		name string
		ok   bool
		opts []nats.Option
	}{
		{"no CA", false, []nats.Option{auth}},
		{"no client certificate", false, []nats.Option{auth, nats.RootCAs(at(tlsca.CAFile))}},
		{"certificate of another CA", false, []nats.Option{auth, nats.RootCAs(at(tlsca.CAFile)),
			nats.ClientCert(filepath.Join(other, tlsca.BrokerCertFile), filepath.Join(other, tlsca.BrokerKeyFile))}},
		{"no nkey", false, []nats.Option{nats.RootCAs(at(tlsca.CAFile)), nats.ClientCert(at(tlsca.BrokerCertFile), at(tlsca.BrokerKeyFile))}},
		{"right CA, certificate and nkey", true, []nats.Option{auth, nats.RootCAs(at(tlsca.CAFile)), nats.ClientCert(at(tlsca.BrokerCertFile), at(tlsca.BrokerKeyFile))}},
	}
	for _, c := range cases {
		err := connect(c.opts...)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: connected", c.name)
		}
	}
	// A directory change reloads the server; TLS must stay on.
	if err := s.Update(d); err != nil {
		t.Fatal(err)
	}
	if err := connect(auth, nats.RootCAs(at(tlsca.CAFile))); err == nil {
		t.Error("after a reload a client without a certificate connected")
	}
	if err := connect(auth, nats.RootCAs(at(tlsca.CAFile)), nats.ClientCert(at(tlsca.BrokerCertFile), at(tlsca.BrokerKeyFile))); err != nil {
		t.Errorf("after a reload: %v", err)
	}
}

// TestEncryptExistingStore: a data directory written before the key existed
// is encrypted on the first start with one, and its messages stay readable.
func TestEncryptExistingStore(t *testing.T) {
	data := t.TempDir()
	d, auth := brokerUser(t)
	const marker = "Ottilia-Plaintextsson-20110101"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(key string, f func(js jetstream.JetStream)) {
		s := startWith(t, natsserver.Config{DataDir: data, Directory: d, EncryptionKey: key})
		nc, err := nats.Connect(s.ClientURL(), auth)
		if err != nil {
			t.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		f(js)
		nc.Close()
		s.Shutdown()
	}
	run("", func(js jetstream.JetStream) {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, "t", []byte(marker)); err != nil {
			t.Fatal(err)
		}
	})
	if len(filesContaining(t, data, marker)) == 0 {
		t.Fatal("the plaintext store does not hold the marker")
	}
	key, err := natsserver.EnsureKey(filepath.Join(t.TempDir(), natsserver.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	run(key, func(js jetstream.JetStream) {
		st, err := js.Stream(ctx, "T")
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetMsg(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != marker {
			t.Fatalf("after encryption the message reads %q", m.Data)
		}
	})
	if found := filesContaining(t, data, marker); len(found) > 0 {
		t.Fatalf("after a start with the key the marker is still in plaintext in %v", found)
	}
}

// BenchmarkPublish measures what encryption at rest costs a synced
// JetStream publish of an envelope-sized message.
func BenchmarkPublish(b *testing.B) {
	for _, encrypted := range []bool{false, true} {
		b.Run(map[bool]string{false: "plaintext", true: "encrypted"}[encrypted], func(b *testing.B) {
			d, auth := brokerUser(b)
			cfg := natsserver.Config{DataDir: b.TempDir(), Directory: d, Host: "127.0.0.1", Port: -1}
			if encrypted {
				key, err := natsserver.EnsureKey(filepath.Join(b.TempDir(), natsserver.KeyFile))
				if err != nil {
					b.Fatal(err)
				}
				cfg.EncryptionKey = key
			}
			s, err := natsserver.Start(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Shutdown()
			nc, err := nats.Connect(s.ClientURL(), auth)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx := context.Background()
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}}); err != nil {
				b.Fatal(err)
			}
			msg := bytes.Repeat([]byte("x"), 8<<10)
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := js.Publish(ctx, "t", msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
