package webdesk_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/browsertest"
)

// official is one official's browser tab, in a browser context of its own
// (its own cookies: the desks differ only in port, which cookies ignore).
type official struct {
	t    *testing.T
	ctx  context.Context
	base string
	id   string
}

func (w *world) official(t *testing.T, browser context.Context, id string) *official {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	o := &official{t: t, ctx: ctx, base: w.desks[id].URL + "/desk/", id: id}
	o.do(chromedp.Navigate(o.base+"login"),
		chromedp.SendKeys(chromedp.ID("name"), officials[id].Name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav`)))
	o.see("h1", "Inkorg")
	o.see("header", officials[id].DisplayName)
	return o
}

// do runs steps in the official's tab.
func (o *official) do(steps ...chromedp.Action[chromedp.Void]) {
	o.t.Helper()
	if err := chromedp.Do(o.ctx, steps...); err != nil {
		o.t.Fatalf("%s: %v", o.id, err)
	}
}

// text returns the text of the first element sel selects.
func (o *official) text(sel string) string {
	o.t.Helper()
	s, err := chromedp.Run(o.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		o.t.Fatalf("%s: text of %s: %v", o.id, sel, err)
	}
	return s
}

// see asserts that the element sel selects shows each of want.
func (o *official) see(sel string, want ...string) {
	o.t.Helper()
	got := o.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			o.t.Fatalf("%s: %s shows %q, want %q", o.id, sel, got, w)
		}
	}
}

// submit clicks the submit button of the form posting to action and waits
// for the outcome page.
func (o *official) submit(action string) {
	o.t.Helper()
	o.do(chromedp.Click(chromedp.CSS(`form[action$="`+action+`"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("utfall")))
}

var rowRE = regexp.MustCompile(`(?s)<tr>.*?</tr>`)

// open reloads the inbox, which fetches from the broker each time, until a
// message whose link text contains what is listed, and opens it.
func (o *official) open(what string) {
	o.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		o.do(chromedp.Navigate(o.base), chromedp.WaitVisible(chromedp.CSS("main h1")))
		html, err := chromedp.Run(o.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		if err != nil {
			o.t.Fatal(err)
		}
		for _, row := range rowRE.FindAllString(html, -1) {
			if m := msgLinkRE.FindStringSubmatch(row); m != nil && strings.Contains(row, what) {
				o.do(chromedp.Click(chromedp.CSS(`a[href="/desk/m/`+m[1]+`"]`)), chromedp.WaitVisible(chromedp.ID("beslut")))
				return
			}
		}
	}
	o.t.Fatalf("%s: no %q arrived in the inbox", o.id, what)
}

// TestBrowserFirstScenario plays the first scenario of the joint guidance
// of Skolverket, Socialstyrelsen and Polisen in Chromium, across the desks of
// a school, social services and the police and a real broker; then the
// police ask the school for a pupil's class, and a forward of data from a
// preliminary investigation is refused.
func TestBrowserFirstScenario(t *testing.T) {
	w := newWorld(t, nil)
	browser := browsertest.New(t)
	school := w.official(t, browser, brokertest.School)
	social := w.official(t, browser, brokertest.Social)
	police := w.official(t, browser, brokertest.Police)

	// The school reports concern for a pupil, asking for feedback.
	school.do(chromedp.Navigate(school.base+"concern"),
		chromedp.SetValue(chromedp.ID("to"), brokertest.Social),
		chromedp.SendKeys(chromedp.ID("personnummer"), pupil),
		chromedp.SendKeys(chromedp.ID("text"), "Elin har slutat äta lunch och berättar att hon inte vill gå hem."),
		chromedp.Click(chromedp.ID("feedback")))
	browsertest.Screenshot(t, school.ctx, "desk-1-orosanmalan")
	school.submit("/concern")
	school.see("#utfall", "Orosanmälan: levererat")
	school.see("main", "Socialtjänsten Malmö", "R-CONCERN", "SoL")

	// Social services see the report with its decision, and give feedback:
	// the status only, once the guardian has been told.
	social.open("Orosanmälan")
	social.see("main", "Orosanmälan från Rosengårdsskolan", "R-CONCERN", "Elin har slutat äta lunch", "Återkoppling önskas.")
	// Before the guardian is told, feedback is inappropriate: the broker
	// refuses it and the page shows its decisive reason.
	social.do(chromedp.Click(chromedp.ID("status-opened")),
		chromedp.SendKeys(chromedp.ID("reason"), "Skolan behöver veta att ärendet tas om hand."))
	social.submit("/feedback")
	social.see("#utfall", "Återkoppling: avslag")
	if decisive := social.text(".avgorande"); !strings.Contains(decisive, "Avgörande skäl") || len(decisive) < len("Avgörande skäl: R-") {
		t.Fatalf("the refusal shows no decisive reason: %q", decisive)
	}
	browsertest.Screenshot(t, social.ctx, "desk-2-aterkoppling-avslag")
	social.open("Orosanmälan")
	social.do(chromedp.Click(chromedp.ID("status-opened")),
		chromedp.Click(chromedp.ID("guardian-informed")),
		chromedp.SendKeys(chromedp.ID("reason"), "Vårdnadshavarna är informerade; skolan behöver veta att ärendet tas om hand."))
	browsertest.Screenshot(t, social.ctx, "desk-3-aterkoppling")
	social.submit("/feedback")
	social.see("#utfall", "Återkoppling: levererat")
	social.see("main", "R-FEEDBACK", "Endast status")
	school.open("Återkoppling")
	school.see("main", "En utredning har inletts.", "Endast status")

	// The police ask the school which class a pupil is in; the rector answers
	// at once, as enrolment is public.
	police.do(chromedp.Navigate(police.base+"request"),
		chromedp.SetValue(chromedp.ID("to"), brokertest.School),
		chromedp.SetValue(chromedp.ID("category"), "enrolment"),
		chromedp.SendKeys(chromedp.ID("personnummer"), "20100615-4171"),
		chromedp.SendKeys(chromedp.ID("purpose"), "utreda misshandel"),
		chromedp.SendKeys(chromedp.ID("text"), "Vilken klass går eleven i?"))
	police.submit("/request")
	police.see("#utfall", "Begäran: levererat")
	school.open("Begäran")
	school.see("main", "Begäran från Polisen Malmö Syd", "Vilken klass går eleven i?", "Besvara polisens begäran")
	if v, err := chromedp.Run(school.ctx, chromedp.Value(chromedp.ID("category"))); err != nil || v != "enrolment" {
		t.Fatalf("the answer's category is %q (%v), want the request's, enrolment", v, err)
	}
	school.do(chromedp.SendKeys(chromedp.ID("text"), "Eleven går i klass 9C."))
	school.submit("/answer")
	school.see("#utfall", "Svar till polisen: levererat")
	school.see("main", "Polisen Malmö Syd")
	police.open("Svar")
	police.see("main", "Svar från Rosengårdsskolan", "Eleven går i klass 9C.")

	// Social services ask the police for data from the preliminary
	// investigation; the police answer with their relevance assessment.
	social.do(chromedp.Navigate(social.base+"request-fu"),
		chromedp.SetValue(chromedp.ID("to"), brokertest.Police),
		chromedp.SendKeys(chromedp.ID("personnummer"), pupil),
		chromedp.SendKeys(chromedp.ID("purpose"), "bedöma barnets behov av skydd"),
		chromedp.SendKeys(chromedp.ID("text"), "Finns uppgifter ur förundersökningen som rör Elins hemsituation?"))
	social.submit("/request-fu")
	social.see("#utfall", "levererat")
	police.open("förundersökning")
	police.see("main", "Lämna uppgifter ur förundersökning")
	police.do(chromedp.SendKeys(chromedp.ID("relevance"), "Uppgifterna visar hur hemmet ser ut och har betydelse för behovsbedömningen."),
		chromedp.SendKeys(chromedp.ID("text"), "Förhör med grannar visar upprepade larm om bråk i lägenheten."))
	police.submit("/answer-fu")
	police.see("#utfall", "levererat")
	police.see("main", "R-FU", "Förundersökningssekretess")

	// Social services try to pass the FU data on to the school: refused,
	// with the obligation as the decisive reason.
	social.open("Svar")
	social.see(`section[aria-labelledby="beslut"]`, "Förundersökningssekretess", "fu-secrecy: do not forward")
	social.see("main", "Förhör med grannar")
	social.do(chromedp.SetValue(chromedp.ID("fwd-to"), brokertest.School),
		chromedp.SendKeys(chromedp.ID("fwd-purpose"), "stöd i skolan"))
	social.submit("/forward")
	social.see("#utfall", "Vidarebefordran: stoppat innan det skickades")
	social.see(".avgorande", "Förundersökningssekretess", "OSL 18 kap. 1 och 3 §§", "får inte lämnas vidare")
	// The rest of the reasons are folded away, the decision that carried the obligation among them.
	if rest, err := chromedp.Run(social.ctx, chromedp.TextContent(chromedp.CSS("details"))); err != nil || !strings.Contains(rest, "R-FU") {
		t.Fatalf("the folded reasons: %q, %v", rest, err)
	}
	browsertest.Screenshot(t, social.ctx, "desk-4-vidarebefordran-stoppad")

	// Nothing reached the school.
	school.do(chromedp.Navigate(school.base), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if main := school.text("main"); strings.Contains(main, "Uppgiftslämnande") {
		t.Fatalf("the school received the forwarded FU data:\n%s", main)
	}
	browsertest.Screenshot(t, school.ctx, "desk-5-inkorg")
}
