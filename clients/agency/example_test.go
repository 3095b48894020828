package agency_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// deployment is a broker started in-process for the examples: embedded NATS
// on a random loopback port, the real policies and the demo agencies, in a
// temporary data directory.
type deployment struct {
	url     string
	dir     *directory.Directory
	keyDirs map[string]string // agency id → its private key directory
	stop    func()
}

// startDeployment creates the keys and the directory as "brokerctl init" and
// "brokerctl agency new" do, and starts the broker.
func startDeployment() (*deployment, error) {
	data, err := os.MkdirTemp("", "agency-example")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*deployment, error) {
		os.RemoveAll(data)
		return nil, err
	}
	dep, err := brokertest.Provision(data, brokertest.Options{KeysInData: true})
	if err != nil {
		return fail(err)
	}
	d := &deployment{keyDirs: map[string]string{}}
	for _, s := range brokertest.DemoAgencies() {
		d.keyDirs[s.ID] = dep.Home(s.ID)
	}
	if d.dir, err = directory.Load(layout.Directory(dep.Data)); err != nil {
		return fail(err)
	}
	svc, err := dep.Launch(context.Background(), func(c *service.Config) {
		c.NoSync, c.Logger = true, nil
	})
	if err != nil {
		return fail(err)
	}
	d.url = svc.NATSURL()
	d.stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			log.Print(err)
		}
		os.RemoveAll(data)
	}
	return d, nil
}

// dial connects agency id with the keys "brokerctl agency new" wrote for it.
func (d *deployment) dial(ctx context.Context, id string) (*agency.Client, error) {
	ident, err := agency.LoadIdentity(d.keyDirs[id], id)
	if err != nil {
		return nil, err
	}
	return agency.Dial(ctx, agency.Config{URL: d.url, Identity: ident, Directory: d.dir})
}

// pupil returns a test pupil as agency id refers to it: by pseudonym and
// birth date, never by personal identity number.
func (d *deployment) pupil(id string) *agency.Subject {
	k, err := pseudonym.LoadKey(filepath.Join(d.keyDirs[id], pseudonym.KeyFile))
	if err != nil {
		log.Fatal(err)
	}
	p, err := pseudonym.Parse("20120304-2385")
	if err != nil {
		log.Fatal(err)
	}
	return &agency.Subject{Pseudonym: k.Of(p), BirthDate: p.BirthDate()}
}

// mustStart starts a deployment for one example, or ends the program.
func mustStart() *deployment {
	d, err := startDeployment()
	if err != nil {
		log.Fatal(err)
	}
	return d
}

func mustDial(ctx context.Context, d *deployment, id string) *agency.Client {
	c, err := d.dial(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleDial() {
	d := mustStart()
	defer d.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// An agency's key files, as "brokerctl agency new" writes them, and the
	// directory the broker's operator hands out.
	ident, err := agency.LoadIdentity(d.keyDirs[school], school)
	if err != nil {
		log.Fatal(err)
	}
	c, err := agency.Dial(ctx, agency.Config{URL: d.url, Identity: ident, Directory: d.dir})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected as", ident.ID)

	// Keys of another agency are refused before anything is sent.
	other, err := agency.LoadIdentity(d.keyDirs[police], school)
	if err != nil {
		log.Fatal(err)
	}
	_, err = agency.Dial(ctx, agency.Config{URL: d.url, Identity: other, Directory: d.dir})
	fmt.Println("wrong keys:", errors.Is(err, agency.ErrBadKey))
	// Output:
	// connected as rosengard-skola
	// wrong keys: true
}

// A school reports a concern about a pupil to social services, who read it
// from their inbox.
func ExampleClient_ReportConcern() {
	d := mustStart()
	defer d.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sch, soc := mustDial(ctx, d, school), mustDial(ctx, d, social)
	defer sch.Close()
	defer soc.Close()

	receipt, err := sch.ReportConcern(ctx, social, agency.Claims{
		Subject: d.pupil(school), Purpose: "orosanmälan", SenderRole: "mentor",
	}, []byte("Eleven har ändrat beteende och berättar om bråk hemma."))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("receipt:", receipt.Outcome, "under", receipt.Rule)

	report, err := soc.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// Acknowledge once the report is safely stored; until then it is
	// delivered again.
	if err := report.Ack(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("from %s (%s): %s\n", report.From, report.Kind, report.Payload)
	fmt.Println("same decision:", report.Decision.DecisionID == receipt.DecisionID)
	// Output:
	// receipt: delivered under R-CONCERN
	// from rosengard-skola (concern_report): Eleven har ändrat beteende och berättar om bråk hemma.
	// same decision: true
}

// A disclosure the law does not allow is never delivered; the sender gets
// the broker's signed rejection with every reason.
func ExampleClient_Deliver() {
	d := mustStart()
	defer d.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sch := mustDial(ctx, d, school)
	defer sch.Close()

	_, err := sch.Deliver(ctx, agency.Message{To: police, Kind: agency.KindDisclosure,
		Metadata: agency.Claims{Category: "health", Subject: d.pupil(school)},
		Payload:  []byte("Elevhälsans journal")})
	var rej *agency.RejectedError
	if errors.As(err, &rej) {
		fmt.Println("denied by policy:", errors.Is(err, agency.ErrDenied))
		fmt.Println("reasons given:", len(rej.Receipt.Reasons) > 0)
	}
	// Output:
	// denied by policy: true
	// reasons given: true
}

// The police ask a school which school a pupil attends; the school's
// responder answers requests as they arrive.
func ExampleClient_Request() {
	d := mustStart()
	defer d.stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pol, sch := mustDial(ctx, d, police), mustDial(ctx, d, school)
	defer pol.Close()
	defer sch.Close()

	serving, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- sch.Serve(serving, agency.HandlerFunc(func(ctx context.Context, req *agency.Delivery) error {
			_, err := sch.Respond(ctx, req, agency.Claims{Category: "enrolment", SenderRole: "rector",
				Subject: d.pupil(school), Secret: agency.Bool(false)}, []byte("Eleven går i klass 7B."))
			return err
		}))
	}()

	answer, err := pol.Request(ctx, agency.Message{To: school, Metadata: agency.Claims{
		Category: "enrolment", Purpose: "utreda misshandel på fritiden", Subject: d.pupil(police)},
		Payload: []byte("Vilken skola går eleven i?")})
	if err != nil {
		log.Fatal(err)
	}
	if err := answer.Ack(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s answered under %s: %s\n", answer.From, answer.Decision.Rule, answer.Payload)

	stop()
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// rosengard-skola answered under R-LUB-REQUEST: Eleven går i klass 7B.
}
