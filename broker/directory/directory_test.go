package directory

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

func pubKeys(t *testing.T) (string, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return keys.FormatSigningPublicKey(pub), id.Recipient().String()
}

func newDirectory(t *testing.T, agencies ...Agency) *Directory {
	t.Helper()
	s, r := pubKeys(t)
	d := &Directory{Broker: Broker{SigningKey: s, AgeRecipient: r}}
	for _, a := range agencies {
		a.SigningKey, a.AgeRecipient = pubKeys(t)
		d.Agencies = append(d.Agencies, a)
	}
	return d
}

func TestWriteLoadAndFacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.yaml")
	d := newDirectory(t,
		Agency{ID: "polisen-syd", Kind: KindPolice, Name: "Polisen"},
		Agency{ID: "friskolan", Kind: KindSchool, Operator: OperatorIndependent, Name: "Friskolan"},
		Agency{ID: "skolan", Kind: KindSchool, Operator: OperatorMunicipal, Name: "Skolan"},
		Agency{ID: "sakerhetspolisen", Kind: KindSecurityPolice, Name: "Säkerhetspolisen"},
		Agency{ID: "tullverket", Kind: KindCustoms, Name: "Tullverket"},
	)
	if err := Write(path, d); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for id, authority := range map[string]bool{"polisen-syd": true, "friskolan": false, "skolan": true, "sakerhetspolisen": true, "tullverket": true} {
		a, ok := got.Lookup(id)
		if !ok || a.Authority() != authority || a.SigningPublicKey() == nil || a.Recipient() == nil {
			t.Fatalf("%s: %+v authority=%v", id, a, a.Authority())
		}
		if f := a.Facts(); f["authority"] != authority || f["id"] != id || f["kind"] != a.Kind {
			t.Fatalf("%s facts = %v", id, f)
		}
	}
	if _, ok := got.Lookup("nobody"); ok {
		t.Fatal("Lookup of an unknown id succeeded")
	}
}

func TestInvalidDirectories(t *testing.T) {
	base := func() *Directory {
		return newDirectory(t, Agency{ID: "skolan", Kind: KindSchool, Operator: OperatorMunicipal, Name: "Skolan"})
	}
	cases := map[string]func(d *Directory){
		"bad id":              func(d *Directory) { d.Agencies[0].ID = "Skolan.A" },
		"unknown kind":        func(d *Directory) { d.Agencies[0].Kind = "hospital" },
		"school w/o operator": func(d *Directory) { d.Agencies[0].Operator = "" },
		"police w/ operator": func(d *Directory) {
			d.Agencies[0].Kind, d.Agencies[0].Operator = KindPolice, OperatorMunicipal
		},
		"customs w/ operator": func(d *Directory) {
			d.Agencies[0].Kind, d.Agencies[0].Operator = KindCustoms, OperatorMunicipal
		},
		"no name":      func(d *Directory) { d.Agencies[0].Name = "" },
		"bad key":      func(d *Directory) { d.Agencies[0].SigningKey = "ed25519:AAAA" },
		"bad age":      func(d *Directory) { d.Agencies[0].AgeRecipient = "age1nope" },
		"duplicate id": func(d *Directory) { d.Agencies = append(d.Agencies, d.Agencies[0]) },
		"bad broker":   func(d *Directory) { d.Broker.SigningKey = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := base()
			mutate(d)
			b, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(b); err == nil {
				t.Fatalf("Parse accepted:\n%s", b)
			}
		})
	}
	b, _ := base().Marshal()
	if _, err := Parse(append(b, []byte("colour: blue\n")...)); err == nil {
		t.Fatal("Parse accepted an unknown field")
	}
}

func TestAddAndWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.yaml")
	if err := Write(path, newDirectory(t)); err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 1)
	src, err := Open(path, slog.New(&reloadFailures{ch: failed}))
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan *Directory, 4)
	src.OnChange(func(d *Directory) { changed <- d })
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { src.Watch(ctx, 20*time.Millisecond) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	a := newDirectory(t, Agency{ID: "soc", Kind: KindSocialServices, Name: "Soc"}).Agencies[0]
	if added, err := Add(path, a); err != nil {
		t.Fatal(err)
	} else if got, ok := added.Lookup("soc"); !ok || got.SigningPublicKey() == nil {
		t.Fatal("the directory returned by Add lacks the new agency")
	}
	select {
	case d := <-changed:
		if _, ok := d.Lookup("soc"); !ok {
			t.Fatal("reloaded directory lacks the new agency")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not pick up the new agency")
	}
	// The callback runs before the new directory is stored; the reload holds
	// mu until then, so taking it once orders this check after the swap.
	src.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the point
	src.mu.Unlock()
	if _, ok := src.Current().Lookup("soc"); !ok {
		t.Fatal("Current() lacks the new agency")
	}
	if _, err := Add(path, a); !errors.Is(err, ErrExists) {
		t.Fatalf("adding twice = %v, want ErrExists", err)
	}

	// A broken file is ignored: the agencies stay reachable.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "social_services", "socialtjanst", 1)), 0o644)
	select {
	case <-failed:
	case <-time.After(20 * time.Second):
		t.Fatal("the watcher did not report the broken file")
	}
	if _, ok := src.Current().Lookup("soc"); !ok {
		t.Fatal("a broken directory file replaced the working one")
	}
	if err := src.Reload(); err == nil {
		t.Fatal("Reload of a broken file succeeded")
	}
}

// reloadFailures signals ch each time the watcher logs a failed reload.
type reloadFailures struct{ ch chan struct{} }

func (h *reloadFailures) Enabled(context.Context, slog.Level) bool { return true }
func (h *reloadFailures) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *reloadFailures) WithGroup(string) slog.Handler            { return h }
func (h *reloadFailures) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "reload failed") {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}

// Write leaves a readable file (mode 0644: public keys only) and nothing else
// in the folder, creating the folder if needed.
func TestWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "directory.yaml")
	d := newDirectory(t, Agency{ID: "skolan", Kind: KindSchool, Operator: OperatorMunicipal, Name: "Skolan"})
	for range 2 {
		if err := Write(path, d); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("directory file has mode %v, want 0644", fi.Mode().Perm())
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("folder holds %d entries, want only directory.yaml", len(ents))
	}
}
