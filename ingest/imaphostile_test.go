package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hostileIMAP serves one connection from a script: fetch is what it
// answers to UID FETCH (before the tagged OK). Dovecot cannot be made to
// misbehave, so this one does, on purpose.
func hostileIMAP(t *testing.T, fetch string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1] hostile\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			cmd := strings.ToUpper(rest)
			switch {
			case strings.HasPrefix(cmd, "EXAMINE"), strings.HasPrefix(cmd, "SELECT"):
				fmt.Fprintf(c, "* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n%s OK [READ-ONLY] done\r\n", tag)
			case strings.HasPrefix(cmd, "UID SEARCH"):
				fmt.Fprintf(c, "* SEARCH 1 2\r\n%s OK done\r\n", tag)
			case strings.HasPrefix(cmd, "UID FETCH"):
				fmt.Fprintf(c, "%s%s OK done\r\n", fetch, tag)
			case strings.HasPrefix(cmd, "LOGOUT"):
				fmt.Fprintf(c, "* BYE\r\n%s OK bye\r\n", tag)
				return
			default: // LOGIN, CAPABILITY, NOOP, …
				fmt.Fprintf(c, "%s OK done\r\n", tag)
			}
		}
	}()
	u, _ := url.Parse("imap://u@" + ln.Addr().String() + "/INBOX")
	return u
}

// walkAll walks m and returns each item with its bytes (or its error).
func walkAll(t *testing.T, m *IMAP) ([]Item, []string) {
	t.Helper()
	var items []Item
	var bodies []string
	err := m.Walk(context.Background(), func(it Item) error {
		defer it.Release()
		items = append(items, it)
		if it.Err != nil {
			bodies = append(bodies, "")
			return nil
		}
		r, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		bodies = append(bodies, string(b))
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return items, bodies
}

// TestIMAPAnswerWithoutBody: a server that answers a UID FETCH for a
// message without its body must not make an empty message of it (that
// would archive, as evidence, bytes that never arrived): it is named as
// an error, and the message after it still comes, byte for byte.
func TestIMAPAnswerWithoutBody(t *testing.T) {
	msg := "From: a@b\r\nSubject: x\r\n\r\nbody\r\n"
	u := hostileIMAP(t, "* 1 FETCH (UID 1 FLAGS ())\r\n"+
		fmt.Sprintf("* 2 FETCH (UID 2 BODY[] {%d}\r\n%s)\r\n", len(msg), msg))
	m := &IMAP{URL: u, Password: "p", Timeout: 10 * time.Second}
	items, bodies := walkAll(t, m)
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	if items[0].Err == nil || !strings.Contains(items[0].Err.Error(), "no body for UID 1") {
		t.Errorf("UID 1 without a body: %v (%q), want it named as an error", items[0].Err, bodies[0])
	}
	if items[1].Err != nil || bodies[1] != msg || !strings.HasSuffix(items[1].Source, "UID=2") {
		t.Errorf("UID 2: %v %q %q", items[1].Err, items[1].Source, bodies[1])
	}
}

// TestIMAPLargeLiteralSpooled: a message over what an IMAP walk holds in
// memory is spooled to disk and given back byte for byte; Release frees it.
func TestIMAPLargeLiteralSpooled(t *testing.T) {
	big := "From: a@b\r\n\r\n" + strings.Repeat("0123456789abcdef", (imapHoldMax/16)+1) + "\r\n"
	small := "From: c@d\r\n\r\nsmall\r\n"
	u := hostileIMAP(t, fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n* 2 FETCH (UID 2 BODY[] {%d}\r\n%s)\r\n", len(big), big, len(small), small))
	m := &IMAP{URL: u, Password: "p", Timeout: 10 * time.Second, SpoolDir: t.TempDir()}
	items, bodies := walkAll(t, m)
	if len(items) != 2 || bodies[0] != big || bodies[1] != small {
		t.Fatalf("%d items; bytes as sent: %v, %v", len(items), len(bodies) > 0 && bodies[0] == big, len(bodies) > 1 && bodies[1] == small)
	}
	if _, held := items[0].Held(); held {
		t.Error("a message over imapHoldMax was held in memory")
	}
	if _, held := items[1].Held(); !held {
		t.Error("a small message was spooled, not held")
	}
}
