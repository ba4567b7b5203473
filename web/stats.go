package web

import (
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/pec"
)

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// StatRow counts one mailbox's month.
type StatRow struct {
	Mailbox, Month                              string
	Sent, Received, Receipts, Failures, Flagged int
	Total                                       int
}

type statsData struct {
	Rows   []StatRow
	Months []StatRow // all mailboxes together, by month
	Chart  template.HTML
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, sess *session) {
	byKey := map[[2]string]*StatRow{}
	byMonth := map[string]*StatRow{}
	// The counts the catalog keeps at every write: no record is read.
	err := s.arch.View(r.Context(), func(a *archive.Archive) error {
		return a.Catalog.Tallies(func(mailbox, month, _ string, t archive.Tally) error {
			if month == "" {
				return nil // a sender's counts
			}
			k := [2]string{mailbox, month}
			row := byKey[k]
			if row == nil {
				row = &StatRow{Mailbox: k[0], Month: month}
				byKey[k] = row
			}
			mrow := byMonth[month]
			if mrow == nil {
				mrow = &StatRow{Mailbox: "", Month: month}
				byMonth[month] = mrow
			}
			for _, x := range []*StatRow{row, mrow} {
				x.Total += t.Messages
				for kind, n := range t.Kinds {
					switch {
					case kind == pec.KindErroreConsegna || kind == pec.KindNonAccettazione || kind == pec.KindPreavvisoErroreConsegna:
						x.Failures += n
						x.Receipts += n
					case kind.IsReceipt():
						x.Receipts += n
					case kind == pec.KindPostaCertificata:
						// An envelope in a mailbox was received there; what the
						// mailbox sent comes back as its acceptance receipt.
						x.Received += n
					}
					if kind == pec.KindAccettazione {
						x.Sent += n
					}
				}
				x.Flagged += t.Flagged
			}
			return nil
		})
	})
	if err != nil {
		s.archiveError(w, r, sess, err)
		return
	}
	var d statsData
	for _, v := range byKey {
		d.Rows = append(d.Rows, *v)
	}
	sort.Slice(d.Rows, func(i, j int) bool {
		if d.Rows[i].Mailbox != d.Rows[j].Mailbox {
			return d.Rows[i].Mailbox < d.Rows[j].Mailbox
		}
		return d.Rows[i].Month < d.Rows[j].Month
	})
	for _, v := range byMonth {
		d.Months = append(d.Months, *v)
	}
	sort.Slice(d.Months, func(i, j int) bool { return d.Months[i].Month < d.Months[j].Month })
	d.Chart = chart(d.Months)
	s.record(r, sess, "stats", "", "ok")
	s.render(w, r, sess, http.StatusOK, "stats", "", d)
}

// chart draws messages per month as an SVG bar chart. Everything in it is
// numbers and month strings made here ("2006-01"), never user text.
func chart(months []StatRow) template.HTML {
	if len(months) == 0 {
		return ""
	}
	if len(months) > 36 {
		months = months[len(months)-36:]
	}
	top := 1
	for _, m := range months {
		top = max(top, m.Total)
	}
	const h, bw, gap = 160, 28, 8
	width := len(months)*(bw+gap) + gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="messages per month">`, width, h+40, width, h+40)
	for i, m := range months {
		x := gap + i*(bw+gap)
		bar := m.Total * h / top
		fail := m.Failures * h / top
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar"><title>%s: %d</title></rect>`, x, h-bar+10, bw, bar, m.Month, m.Total)
		if fail > 0 {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="fail"/>`, x, h-fail+10, bw, fail)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl">%d</text>`, x+bw/2, h-bar+6, m.Total)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl">%s</text>`, x+bw/2, h+26, m.Month[2:])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
