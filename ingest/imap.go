package ingest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/conserva/conserva/internal/redact"
	"github.com/conserva/conserva/internal/spool"
)

// Marks remembers, per IMAP source, the UIDVALIDITY and the highest UID
// below which every message is stored and catalogued.
type Marks interface {
	Mark(source string) (validity, uid uint32, ok bool, err error)
	SetMark(source string, validity, uid uint32) error
}

// IMAP is a mailbox read over IMAP, read-only: EXAMINE and BODY.PEEK[], so
// no flag is ever set and nothing moved or expunged. Incremental: only UIDs
// above the mark are fetched; a changed UIDVALIDITY means a full rescan
// (duplicates make it safe).
type IMAP struct {
	URL      *url.URL // imap://USER@HOST[:PORT]/MAILBOX or imaps://…
	Password string
	// InsecureSkipVerify disables certificate checks (explicit, per source).
	InsecureSkipVerify bool
	Marks              Marks
	Batch              int // UIDs per UID FETCH; default 500
	// SpoolDir holds the messages waiting to be verified and stored that
	// are not held in memory ("" for the system's temporary directory).
	SpoolDir string
	Timeout  time.Duration // dial and per-command inactivity; default 60s

	trMu sync.Mutex
	tr   *uidTracker // of the running Walk
}

// ParseIMAP reads an imap:// or imaps:// source.
func ParseIMAP(spec, password string) (*IMAP, error) {
	u, err := url.Parse(spec)
	if err != nil || (u.Scheme != "imap" && u.Scheme != "imaps") || u.Host == "" || u.User == nil {
		return nil, fmt.Errorf("IMAP source %q: want imap[s]://USER@HOST[:PORT]/MAILBOX", redact.URL(spec))
	}
	// A password written into the URL is dropped, never used nor shown:
	// it would end up in logs, outputs and the catalog.
	u.User = url.User(u.User.Username())
	return &IMAP{URL: u, Password: password}, nil
}

func (m *IMAP) mailbox() string {
	if b := strings.Trim(m.URL.Path, "/"); b != "" {
		return b
	}
	return "INBOX"
}

// String names the source without its password: the key of its mark.
func (m *IMAP) String() string {
	return fmt.Sprintf("%s://%s@%s/%s", m.URL.Scheme, m.URL.User.Username(), m.URL.Host, m.mailbox())
}

// timeoutConn gives every read and write a deadline, so a dead server
// ends the run instead of hanging it.
type timeoutConn struct {
	net.Conn
	d time.Duration
}

func (c timeoutConn) Read(b []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(b)
}

func (c timeoutConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(b)
}

func (m *IMAP) dial() (*imapclient.Client, error) {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	host := m.URL.Host
	if m.URL.Port() == "" {
		if m.URL.Scheme == "imaps" {
			host += ":993"
		} else {
			host += ":143"
		}
	}
	tlsConf := &tls.Config{ServerName: m.URL.Hostname(), InsecureSkipVerify: m.InsecureSkipVerify} //nolint:gosec // per-source opt-in
	raw, err := net.DialTimeout("tcp", host, timeout)
	if err != nil {
		return nil, err
	}
	conn := net.Conn(timeoutConn{raw, timeout})
	opts := &imapclient.Options{TLSConfig: tlsConf}
	if m.URL.Scheme == "imaps" {
		tc := tls.Client(conn, tlsConf)
		return imapclient.New(tc, opts), nil
	}
	c := imapclient.New(conn, opts)
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, err
	}
	// STARTTLS whenever the server offers it.
	if c.Caps().Has(imap.CapStartTLS) {
		c.Close()
		raw, err := net.DialTimeout("tcp", host, timeout)
		if err != nil {
			return nil, err
		}
		return imapclient.NewStartTLS(timeoutConn{raw, timeout}, opts)
	}
	return c, nil
}

func (m *IMAP) Walk(ctx context.Context, fn func(Item) error) error {
	c, err := m.dial()
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", m.URL.Host, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(m.URL.User.Username(), m.Password).Wait(); err != nil {
		return fmt.Errorf("login to %s as %s: %w", m.URL.Host, m.URL.User.Username(), err)
	}
	sel, err := c.Select(m.mailbox(), &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("EXAMINE %s: %w", m.mailbox(), err)
	}
	var from uint32
	if m.Marks != nil {
		validity, uid, ok, err := m.Marks.Mark(m.String())
		if err != nil {
			return err
		}
		if ok && validity == sel.UIDValidity {
			from = uid
		}
	}
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= from+1) {
		return nil
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(from+1), 0) // from+1:*
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("UID SEARCH: %w", err)
	}
	var uids []uint32
	for _, u := range found.AllUIDs() {
		if uint32(u) > from { // "n:*" includes the highest UID even below n
			uids = append(uids, uint32(u))
		}
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	tr := &uidTracker{pending: uids, done: map[uint32]bool{}, save: func(uid uint32) error {
		if m.Marks == nil {
			return nil
		}
		return m.Marks.SetMark(m.String(), sel.UIDValidity, uid)
	}}
	m.trMu.Lock()
	m.tr = tr
	m.trMu.Unlock()
	batch := m.Batch
	if batch <= 0 {
		batch = 500
	}
	section := &imap.FetchItemBodySection{Peek: true} // BODY.PEEK[]: never sets \Seen
	// Each message is read off the connection as it comes and handed on
	// at once; the next is read while the caller verifies and stores this
	// one, as far as its queue lets it. What waits in that queue is held in
	// memory only up to imapHeldBudget in all, one message up to
	// imapHoldMax; past that, spooled to an unlinked file in SpoolDir
	// (fetching whole batches held 307 MB for 8 messages of 30 MB).
	budget := &heldBudget{max: imapHeldBudget}
	for i := 0; i < len(uids); i += batch {
		var bs imap.UIDSet
		for _, u := range uids[i:min(i+batch, len(uids))] {
			bs.AddNum(imap.UID(u))
		}
		cmd := c.Fetch(bs, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			it, err := m.readMessage(msg, budget)
			if err != nil {
				cmd.Close()
				return fmt.Errorf("UID FETCH: %w", err)
			}
			if !it.isHeld && it.open == nil {
				// No body in the answer: named, never stored as an empty
				// message; the mark stays below it, so the next run asks again.
				it.Item = Item{Size: -1, Err: fmt.Errorf("the server sent no body for UID %d", it.uid)}
			}
			uid := it.uid
			it.Source = fmt.Sprintf("%s;UIDVALIDITY=%d;UID=%d", m, sel.UIDValidity, uid)
			it.Done = func() { tr.markDone(uid) }
			if err := fn(it.Item); err != nil {
				it.Release()
				cmd.Close()
				return err
			}
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("UID FETCH: %w", err)
		}
	}
	return nil
}

// imapHoldMax is the largest message an IMAP walk hands on in memory, and
// imapHeldBudget what all those handed on and not yet released may hold.
const (
	imapHoldMax    = 16 << 20
	imapHeldBudget = 32 << 20
)

// heldBudget counts the bytes of messages handed on in memory and not yet
// released.
type heldBudget struct {
	mu       sync.Mutex
	max, now int64
}

func (b *heldBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 || n > imapHoldMax || b.now+n > b.max {
		return false
	}
	b.now += n
	return true
}

func (b *heldBudget) give(n int64) {
	b.mu.Lock()
	b.now -= n
	b.mu.Unlock()
}

type imapItem struct {
	Item
	uid uint32
}

// readMessage reads one FETCH response's body: into memory when the
// budget allows, else into a spool file.
func (m *IMAP) readMessage(msg *imapclient.FetchMessageData, budget *heldBudget) (imapItem, error) {
	var out imapItem
	for {
		item := msg.Next()
		if item == nil {
			return out, nil
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			out.uid = uint32(it.UID)
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			out.Release() // a second body in one answer: the first is dropped, not leaked
			size := it.Literal.Size()
			if budget.take(size) {
				raw := make([]byte, size)
				if _, err := io.ReadFull(it.Literal, raw); err != nil {
					budget.give(size)
					return out, err
				}
				out.Item = Item{Size: size, held: raw, isHeld: true, release: sync.OnceFunc(func() { budget.give(size) })}
				continue
			}
			sp, err := spool.Write(m.SpoolDir, it.Literal, 0)
			if err != nil {
				return out, err
			}
			out.Item = Item{Size: sp.Size, spooled: sp, open: func() (io.ReadCloser, error) { return io.NopCloser(sp.Reader()), nil },
				release: sync.OnceFunc(func() { sp.Close() })}
		}
	}
}

// SaveMarks records how far the mailbox is stored and catalogued. The
// caller calls it after each catalog commit (one write per batch, not one
// per message); a mark saved late only means a refetch next time.
func (m *IMAP) SaveMarks() error {
	m.trMu.Lock()
	tr := m.tr
	m.trMu.Unlock()
	if tr == nil {
		return nil
	}
	return tr.flush()
}

// uidTracker advances the mark only over a prefix of UIDs that are all
// stored and catalogued.
type uidTracker struct {
	mu      sync.Mutex
	pending []uint32 // sorted, not yet covered by the mark
	done    map[uint32]bool
	save    func(uint32) error
	mark    uint32 // covers every UID up to it, not saved yet when dirty
	dirty   bool
}

func (t *uidTracker) markDone(uid uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[uid] = true
	for len(t.pending) > 0 && t.done[t.pending[0]] {
		t.mark = t.pending[0]
		delete(t.done, t.mark)
		t.pending = t.pending[1:]
		t.dirty = true
	}
}

func (t *uidTracker) flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty {
		return nil
	}
	t.dirty = false
	return t.save(t.mark)
}
