package desk_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestTLS: against a broker requiring mutual TLS, the officials' clients
// connect with --tls-ca and the certificate beside the agency's keys, and
// not without the CA.
func TestTLS(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(school, social), KeysInData: true, TLS: true})
	data := d.Data
	at := func(f string) string { return service.TLSPath(data, f) }
	svc := d.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := func(prog, id string, args ...string) (string, error) {
		var out bytes.Buffer
		err := programs[prog].run(ctx, append(args, "--as", id, "--name", "Anna Ek", "--data", data, "--nats-url", svc.NATSURL()), &out)
		return out.String(), err
	}
	if _, err := as("socialtjanst", social, "inbox"); !errors.Is(err, agency.ErrUnreachable) {
		t.Fatalf("without --tls-ca: %v, want ErrUnreachable", err)
	}
	if got, err := as("rektor", school, "concern", "--to", social, "--personnummer", "20120304-2385", "--text", "Oro över TLS.",
		"--tls-ca", at(tlsca.CAFile)); err != nil {
		t.Fatalf("concern with --tls-ca: %v\n%s", err, got)
	}
	if got, err := as("socialtjanst", social, "inbox", "--tls-ca", at(tlsca.CAFile)); err != nil || !strings.Contains(got, "Oro över TLS.") {
		t.Fatalf("inbox with --tls-ca: %v\n%s", err, got)
	}
}
