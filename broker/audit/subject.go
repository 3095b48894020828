package audit

// Opened is one record as an auditor reads it: the entry and, when its
// sealed fields could be opened, its personal fields.
type Opened struct {
	Seq      int64
	Entry    *Entry
	Personal *Personal
	// Err says why the personal fields could not be opened (ErrShredded,
	// among others); nil when they were, or when there were none.
	Err error
}

// Subject is whom a record is about.
type Subject struct {
	// Pseudonym is the subject's pseudonym, "" when the record names no one.
	Pseudonym string `json:"pseudonym,omitempty"`
	// From is the message id the subject was taken from when the record's own
	// claims name no one: the message it answers or forwards.
	From string `json:"from,omitempty"`
}

// Subjects returns whom each record of recs (in log order) is about: the
// pseudonym in its own sealed fields or, when it names none, that of the
// earlier message it answers or forwards (Personal.SubjectOf, or the
// record's reply_to for records written before SubjectOf), followed back
// through the log. A reply or a forward is thus found by its subject even
// though the broker, which cannot open earlier records, sealed only the link.
func Subjects(recs []Opened) []Subject {
	out := make([]Subject, len(recs))
	byMessage := map[string]string{} // message id → pseudonym
	for i, r := range recs {
		var links []string
		if p := r.Personal; p != nil {
			out[i].Pseudonym = p.Pseudonym
			links = p.SubjectOf
		}
		if out[i].Pseudonym == "" && r.Entry != nil {
			if len(links) == 0 && r.Entry.Decision.ReplyTo != "" {
				links = []string{r.Entry.Decision.ReplyTo}
			}
			for _, id := range links {
				if ps := byMessage[id]; ps != "" {
					out[i] = Subject{Pseudonym: ps, From: id}
					break
				}
			}
		}
		// Links point back in the log, so one pass resolves chains. A
		// rejected replay shares its message id with the original and does
		// not replace its subject.
		if r.Entry != nil && out[i].Pseudonym != "" {
			if id := r.Entry.Decision.MessageID; id != "" && byMessage[id] == "" {
				byMessage[id] = out[i].Pseudonym
			}
		}
	}
	return out
}
