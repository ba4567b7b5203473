package ingest

import "testing"

// The mark moves only over a prefix of UIDs that are all done, and is
// written once per SaveMarks (once per catalog commit), not once per message.
func TestMarkSavedPerFlushOverDonePrefix(t *testing.T) {
	var saved []uint32
	tr := &uidTracker{pending: []uint32{3, 5, 8, 9}, done: map[uint32]bool{}, save: func(uid uint32) error {
		saved = append(saved, uid)
		return nil
	}}
	m := &IMAP{tr: tr}
	tr.markDone(5) // 3 is not done yet: nothing may be covered
	if err := m.SaveMarks(); err != nil || len(saved) != 0 {
		t.Fatalf("saved %v before UID 3 was done", saved)
	}
	tr.markDone(3)
	tr.markDone(9)
	if len(saved) != 0 {
		t.Fatalf("saved %v before any flush: one write per message", saved)
	}
	m.SaveMarks()
	m.SaveMarks() // nothing new: no second write
	if len(saved) != 1 || saved[0] != 5 {
		t.Fatalf("saved %v, want [5] (8 is not done)", saved)
	}
	tr.markDone(8)
	m.SaveMarks()
	if len(saved) != 2 || saved[1] != 9 {
		t.Fatalf("saved %v, want [5 9]", saved)
	}
}
