package ingest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// messagesOf walks an mbox and returns each message's bytes as the file
// gives them (not the held copy).
func messagesOf(t *testing.T, mbox string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "box.mbox")
	if err := os.WriteFile(p, []byte(mbox), 0o644); err != nil {
		t.Fatal(err)
	}
	var out []string
	err := Mbox{Path: p}.Walk(context.Background(), func(it Item) error {
		if it.Err != nil {
			t.Fatal(it.Err)
		}
		it.isHeld = false
		r, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		out = append(out, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMboxBodyFromLineIsNotASeparator: a message saved with a leading
// "From -" line (as Thunderbird keeps it) whose body has an unquoted
// paragraph starting with "From " is one message with every byte of its
// body; split there, the paragraph's first line was dropped as a
// separator and stored nowhere, and both halves were flagged.
func TestMboxBodyFromLineIsNotASeparator(t *testing.T) {
	msg := "From: a@b\nSubject: verbale\n\nPrima parte.\n\nFrom the minutes of the meeting: 10:00 to 12:00.\nFrom now on\n"
	got := messagesOf(t, "From - Mon Nov 30 09:00:00 2026\n"+msg)
	if len(got) != 1 || got[0] != msg {
		t.Fatalf("got %d messages %q, want the one message whole", len(got), got)
	}
}

// TestMboxSeparators: what every writer puts between messages still
// separates them, including a sender too long for the first 64 bytes of
// the line; the first line of the file always does.
func TestMboxSeparators(t *testing.T) {
	long := "From " + strings.Repeat("x", 80) + "@provider.pec.example Tue Dec  1 09:00:00 2026\n"
	seps := []string{
		"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n",  // Python, mutt
		"From a@b.example  Thu Jan  1 00:00:00 2026\n",   // Dovecot: two spaces
		"From - Mon Nov 30 09:00:00 2026\r\n",            // Thunderbird, CRLF
		"From 1234@xxx Wed, Jan 03 10:11 +0000 2024\n",   // a weekday with a comma, no seconds, a zone
		"From bench@conserva Mon Nov 30 00:00:00 2026\n", // scripts/bench.sh
		long,
	}
	for _, sep := range seps {
		one, two := "From: a@b\n\none\n", "From: c@d\n\ntwo\n"
		got := messagesOf(t, "From x\n"+one+"\n"+sep+two)
		if len(got) != 2 || got[0] != one || got[1] != two {
			t.Errorf("separator %q: got %q", sep, got)
		}
	}
	for _, body := range []string{"From here on\n", "From 10:00 to 12:00\n", "From Mon Nov\n", "From x Nov 30 10:00:00 2026\n"} {
		msg := "From: a@b\n\nfirst\n\n" + body
		if got := messagesOf(t, "From x\n"+msg); len(got) != 1 || got[0] != msg {
			t.Errorf("body line %q split the message: %q", body, got)
		}
	}
}
