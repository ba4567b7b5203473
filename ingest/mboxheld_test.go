package ingest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// unquoted is what unquoteFrom, the streaming reader, gives for b.
func unquoted(t *testing.T, b []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(unquoteFrom(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMboxSmallMessagesHeld: an mbox's small messages come with their
// bytes, exactly as opening their section gives them (quoting undone, the
// separator's empty line left out, LF or CRLF); a large one is read from
// the file when taken.
func TestMboxSmallMessagesHeld(t *testing.T) {
	large := "From: a@b\n\n" + strings.Repeat("z", holdMax) + "\n"
	mbox := "From x@y Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: one\n\n>From here\n>>From there\n> From not\n\n" +
		"From x@y Mon Jan  1 00:00:00 2024\r\nFrom: a@b\r\n\r\nbody\r\n\r\n" +
		"From x@y Mon Jan  1 00:00:00 2024\n" + large + "\n" +
		"From x@y Mon Jan  1 00:00:00 2024\nFrom: c@d\n\n" + strings.Repeat(">", 60) + "From kept\nlast line without newline"
	p := filepath.Join(t.TempDir(), "box.mbox")
	os.WriteFile(p, []byte(mbox), 0o644)
	wantHeld := []bool{true, true, false, true}
	i := 0
	err := Mbox{Path: p}.Walk(context.Background(), func(it Item) error {
		if it.Err != nil {
			t.Fatal(it.Err)
		}
		b, held := it.Held()
		if i >= len(wantHeld) || held != wantHeld[i] {
			t.Fatalf("message %d: held %v", i+1, held)
		}
		it.isHeld = false // now as the file gives it
		r, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(r)
		r.Close()
		if held && !bytes.Equal(b, want) {
			t.Errorf("message %d: held %q, the file gives %q", i+1, b, want)
		}
		i++
		return nil
	})
	if err != nil || i != len(wantHeld) {
		t.Fatalf("walk: %v, %d messages", err, i)
	}
}

// TestUnquoteBytesIsUnquoteFrom: the in-memory unquoting gives what the
// streaming one gives, at the edges of its 64-byte look ahead too.
func TestUnquoteBytesIsUnquoteFrom(t *testing.T) {
	for _, in := range []string{
		"", "\n", ">From a\n", ">>From a\n>From b", "x\n>From y\n", ">From", ">Fro", ">>>\n",
		strings.Repeat(">", 59) + "From x\n", strings.Repeat(">", 60) + "From x\n", strings.Repeat(">", 70) + "From x\n",
		"a\r\n>From b\r\n\r\n>>From c", ">\nFrom x\n", "\n>From \n",
	} {
		if got, want := unquoteBytes([]byte(in)), unquoted(t, []byte(in)); !bytes.Equal(got, want) {
			t.Errorf("%q: %q, the stream gives %q", in, got, want)
		}
	}
}

func FuzzUnquoteBytes(f *testing.F) {
	f.Add([]byte(">From a\n>>From b\r\nx"))
	f.Add([]byte(strings.Repeat(">", 59) + "From x\n" + strings.Repeat(">", 60) + "From y"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > holdMax {
			return
		}
		if got, want := unquoteBytes(b), unquoted(t, b); !bytes.Equal(got, want) {
			t.Fatalf("%q: %q, the stream gives %q", b, got, want)
		}
	})
}

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
