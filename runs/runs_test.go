package runs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSecretsAndBounds(t *testing.T) {
	r := New("ingest", []string{"imaps://user:hunter2@imap.example/INBOX", strings.Repeat("x", 2000)})
	for range 50 {
		r.Error("failed")
	}
	r.Finish(Findings, errors.New("imaps://u:hunter2@h/ unreachable"))
	all := strings.Join(append(r.Args, r.Errors...), " ")
	if strings.Contains(all, "hunter2") {
		t.Fatalf("a password in the run summary: %s", all)
	}
	if len(r.Args[1]) > maxText+4 || len(r.Errors) != maxErrors+1 {
		t.Fatalf("unbounded: %d args bytes, %d errors", len(r.Args[1]), len(r.Errors))
	}
}

func TestNextExpected(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	var h []Run
	if _, ok := NextExpected(h, "run"); ok {
		t.Fatal("a schedule from no run")
	}
	for i := 3; i >= 0; i-- { // newest first
		h = append(h, Run{Command: "run", Started: t0.Add(time.Duration(i) * day)}, Run{Command: "seal", Started: t0.Add(time.Duration(i)*day + time.Hour)})
	}
	next, ok := NextExpected(h, "run")
	if !ok || !next.Equal(t0.Add(4*day)) {
		t.Fatalf("next %v %v", next, ok)
	}
	if _, ok := NextExpected(h[:2], "run"); ok {
		t.Fatal("a schedule from one run")
	}
}
