package bus_test

import (
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
)

// allowed reports whether subject matches one of the permission patterns,
// with the NATS server's own wildcard rules.
func allowed(subject string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return server.SubjectMatchesFilter(subject, p) })
}

func TestAgencyPermissions(t *testing.T) {
	const self, other = "polisen-syd", "soc-malmo"
	pub, sub := bus.AgencyPermissions(self)

	kv := "$KV." + bus.ConsentBucket + "."
	direct := "$JS.API.DIRECT.GET.KV_" + bus.ConsentBucket + "." + kv
	mayPublish := []string{
		bus.In(self),
		kv + self + ".samtycke-1",
		kv + self + ".samtycke-1.withdrawn",
		direct + self + ".samtycke-1",
		"$JS.API.CONSUMER.INFO." + bus.StreamOut + "." + bus.InboxConsumer(self),
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamOut + "." + bus.InboxConsumer(self),
		"$JS.ACK." + bus.StreamOut + "." + bus.InboxConsumer(self) + ".1.2.3.4.5.6",
		"$JS.API.CONSUMER.INFO." + bus.StreamReceipts + "." + bus.ReceiptConsumer(self),
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamReceipts + "." + bus.ReceiptConsumer(self),
		"$JS.ACK." + bus.StreamReceipts + "." + bus.ReceiptConsumer(self) + ".1.2.3.4.5.6",
	}
	mustNotPublish := []string{
		// Another agency's subjects, in every direction.
		bus.In(other), bus.Out(other), bus.Receipt(other),
		// Its own deliveries and receipts are the broker's to write.
		bus.Out(self), bus.Receipt(self),
		bus.InPrefix + ">", bus.InPrefix + "*", bus.InPrefix + self + ".x",
		// The audit log.
		bus.AuditRecord, bus.AuditCheckpoint, bus.AuditCosignedPrefix + "w1",
		// Other agencies' consumers and consents.
		"$JS.API.CONSUMER.INFO." + bus.StreamOut + "." + bus.InboxConsumer(other),
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamOut + "." + bus.InboxConsumer(other),
		"$JS.ACK." + bus.StreamOut + "." + bus.InboxConsumer(other) + ".1.2.3.4.5.6",
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamReceipts + "." + bus.ReceiptConsumer(other),
		"$JS.ACK." + bus.StreamReceipts + "." + bus.ReceiptConsumer(other) + ".1.2.3.4.5.6",
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamIn + "." + bus.BrokerConsumer,
		"$JS.ACK." + bus.StreamIn + "." + bus.BrokerConsumer + ".1.2.3.4.5.6",
		kv + other + ".samtycke-1",
		direct + other + ".samtycke-1",
		// Anything that lists, creates, deletes or purges.
		"$JS.API.STREAM.INFO.KV_" + bus.ConsentBucket,
		"$JS.API.STREAM.MSG.GET.KV_" + bus.ConsentBucket,
		"$JS.API.STREAM.PURGE." + bus.StreamOut,
		"$JS.API.STREAM.DELETE." + bus.StreamAudit,
		"$JS.API.STREAM.LIST", "$JS.API.CONSUMER.LIST." + bus.StreamOut,
		"$JS.API.CONSUMER.CREATE." + bus.StreamOut,
		"$JS.API.CONSUMER.DURABLE.CREATE." + bus.StreamOut + "." + bus.InboxConsumer(self),
		"$JS.API.CONSUMER.DELETE." + bus.StreamOut + "." + bus.InboxConsumer(self),
		"$JS.API.DIRECT.GET.KV_" + bus.ConsentBucket,
		"$KV." + bus.BucketAuditKeys + ".x",
		bus.InboxPrefix(other) + ".x",
	}
	for _, s := range mayPublish {
		if !allowed(s, pub) {
			t.Errorf("%s may not publish to %s, but needs to", self, s)
		}
	}
	for _, s := range mustNotPublish {
		if allowed(s, pub) {
			t.Errorf("%s may publish to %s", self, s)
		}
	}

	if !allowed(bus.InboxPrefix(self)+".abc.1", sub) {
		t.Errorf("%s may not subscribe to its own reply inbox", self)
	}
	for _, s := range []string{
		bus.In(self), bus.In(other), bus.Out(self), bus.Out(other), bus.Receipt(self), bus.Receipt(other),
		bus.InboxPrefix(other) + ".abc.1", "_INBOX.abc", bus.AuditRecord, bus.AuditCheckpoint,
		"$KV." + bus.ConsentBucket + "." + other + ".x", "$JS.API.>", ">",
	} {
		if allowed(s, sub) {
			t.Errorf("%s may subscribe to %s", self, s)
		}
	}

	// No pattern of one agency reaches into another's: the two lists share
	// nothing, and the patterns name the agency.
	opub, osub := bus.AgencyPermissions(other)
	for _, p := range pub {
		if slices.Contains(opub, p) {
			t.Errorf("both agencies may publish to %s", p)
		}
	}
	for _, p := range sub {
		if slices.Contains(osub, p) {
			t.Errorf("both agencies may subscribe to %s", p)
		}
	}
	// A prefix of an id is not the id: "polisen" is not "polisen-syd".
	ppub, _ := bus.AgencyPermissions("polisen")
	for _, s := range mayPublish {
		if allowed(s, ppub) {
			t.Errorf("agency polisen may publish to %s of polisen-syd", s)
		}
	}
}

func TestNames(t *testing.T) {
	for got, want := range map[string]string{
		bus.In("skolan"):              "sekretess.in.skolan",
		bus.Out("skolan"):             "sekretess.out.skolan",
		bus.Receipt("skolan"):         "sekretess.receipt.skolan",
		bus.InboxConsumer("skolan"):   "inbox-skolan",
		bus.ReceiptConsumer("skolan"): "receipts-skolan",
		bus.InboxPrefix("skolan"):     "_INBOX_skolan",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestSenderOf(t *testing.T) {
	for subject, want := range map[string]string{
		"sekretess.in.skolan":      "skolan",
		"sekretess.in.polisen-syd": "polisen-syd",
	} {
		if id, ok := bus.SenderOf(subject); !ok || id != want {
			t.Errorf("SenderOf(%q) = %q, %v", subject, id, ok)
		}
	}
	for _, subject := range []string{
		"sekretess.in.", "sekretess.in.a.b", "sekretess.in.*", "sekretess.in.>",
		"sekretess.out.skolan", "sekretess.receipt.skolan", "skolan", "",
	} {
		if id, ok := bus.SenderOf(subject); ok {
			t.Errorf("SenderOf(%q) = %q, true", subject, id)
		}
	}
}

// TestAuditorPermissions: an auditor reads the audit log and its keys and
// writes nothing but a witness's cosigned checkpoint.
func TestAuditorPermissions(t *testing.T) {
	pub, sub := bus.AuditorPermissions()
	keys := "KV_" + bus.BucketAuditKeys
	mayPublish := []string{
		"$JS.API.STREAM.INFO." + bus.StreamAudit,
		"$JS.API.STREAM.INFO." + bus.StreamAuditCheckpoints,
		"$JS.API.STREAM.INFO." + keys,
		"$JS.API.STREAM.MSG.GET." + bus.StreamAudit,
		"$JS.API.DIRECT.GET." + keys + ".$KV." + bus.BucketAuditKeys + ".period.2026-10.0123456789abcdef",
		"$JS.API.CONSUMER.CREATE." + bus.StreamAudit + ".ordered-1",
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamAuditCheckpoints + ".ordered-1",
		bus.AuditCosignedPrefix + "imy.se_witness",
	}
	mustNotPublish := []string{
		bus.AuditRecord, bus.AuditCheckpoint,
		"$KV." + bus.BucketAuditKeys + ".period.2026-10.x",
		"$JS.API.STREAM.UPDATE." + bus.StreamAudit,
		"$JS.API.STREAM.DELETE." + bus.StreamAudit,
		"$JS.API.STREAM.PURGE." + bus.StreamAudit,
		"$JS.API.STREAM.PURGE." + keys,
		"$JS.API.STREAM.MSG.DELETE." + keys,
		"$JS.API.STREAM.MSG.DELETE." + bus.StreamAudit,
		"$JS.API.STREAM.CREATE." + bus.StreamAudit,
		"$JS.API.CONSUMER.CREATE." + keys,
		"$JS.API.STREAM.INFO." + bus.StreamIn,
		"$JS.API.DIRECT.GET." + bus.StreamOut,
		"$JS.API.CONSUMER.CREATE." + bus.StreamOut + ".x",
		bus.In("polisen-syd"), bus.Out("polisen-syd"),
	}
	for _, s := range mayPublish {
		if !allowed(s, pub) {
			t.Errorf("an auditor may not publish to %s, but needs to", s)
		}
	}
	for _, s := range mustNotPublish {
		if allowed(s, pub) {
			t.Errorf("an auditor may publish to %s", s)
		}
	}
	if !allowed(bus.AuditorInbox+".abc.1", sub) || allowed(bus.InboxPrefix("polisen-syd")+".x", sub) || allowed(bus.Out("polisen-syd"), sub) {
		t.Errorf("auditor subscriptions %v", sub)
	}
}
