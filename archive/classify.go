package archive

import "github.com/conserva/conserva/smistamento"

// The classification of a record, as package smistamento models it (the
// names the record and the CLI have always used).
type (
	Classification = smistamento.Classification
	ClassEvent     = smistamento.Event
	ClassChange    = smistamento.Change
)

// checkClassify compiles the rules, refusing a broken one at load time.
func (c *Config) checkClassify() error {
	if err := c.AgID.Check(); err != nil {
		return err
	}
	return smistamento.Compile(c.Classify)
}

// classifyNew applies the first matching rule (or the defaults) to a new
// record, and records it as the first classification event.
func (a *Archive) classifyNew(rec *Record) {
	ev := smistamento.File(a.Config.Classify, a.Config.AgID.Defaults(), smistamento.Message{
		Sources: rec.Sources, From: rec.From, To: rec.To, Subject: rec.Subject, Kind: rec.Kind})
	rec.Class = ev.Class
	rec.ClassHistory = []ClassEvent{ev}
}
