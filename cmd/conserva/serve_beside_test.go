package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serve runs all day beside the nightly job: while requests are served,
// ingest and seal from the command line succeed, and so does every
// request (each opens the catalog for its own length only).
func TestServeBesideCLI(t *testing.T) {
	w := newWebArchive(t)
	base := startServe(t, w.cfg)
	c := newClient(t, base)
	if c.login("legal1", w.password) != http.StatusSeeOther {
		t.Fatal("login")
	}
	var stop atomic.Bool
	var served, failed atomic.Int64
	var firstFailure atomic.Value
	var wg sync.WaitGroup
	paths := []string{"/search?q=" + url.QueryEscape(w.ref), "/dossier/" + url.PathEscape(w.ref), "/search?q=b%40pec.example", "/export/" + url.PathEscape(w.ref)}
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; !stop.Load(); i++ {
				resp, err := c.c.Get(base + paths[i%len(paths)])
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, paths[i%len(paths)]+": "+resp.Status)
					continue
				}
				served.Add(1)
			}
		}()
	}
	set := fixtures(t)
	src := t.TempDir()
	files, err := set.Provider.Dossier("Notifica atto", []string{"e@pec.example"}, nil, []byte("x"), set.CA.Cert.NotBefore.AddDate(1, 2, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	// Let requests be in flight before the CLI starts.
	for served.Load() < 4 && failed.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	ing := conserva(t, append(w.cfg, "ingest", "--trust", set.TrustPEM, src)...)
	ingTook := time.Since(start)
	start = time.Now()
	seal := conserva(t, append(w.cfg, "seal")...)
	sealTook := time.Since(start)
	before := served.Load()
	for served.Load() < before+4 && failed.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("beside serve: ingest %v, seal %v; %d requests served meanwhile, %d failed", ingTook.Round(time.Millisecond), sealTook.Round(time.Millisecond), served.Load(), failed.Load())
	if ing.code != 0 || seal.code != 0 {
		t.Fatalf("ingest %d %s / seal %d %s", ing.code, ing.stderr, seal.code, seal.stderr)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed beside the CLI: %v", failed.Load(), firstFailure.Load())
	}
	// The new dossier is visible at once, and the access log is whole.
	if _, body, _ := c.get("/search?q=e%40pec.example"); !strings.Contains(body, "Notifica atto") {
		t.Fatal("the dossier ingested beside serve is not found")
	}
	if r := conserva(t, append(w.cfg, "accesslog", "verify")...); r.code != 0 {
		t.Fatalf("accesslog verify: %s", r.stdout)
	}
}

// The evidence pack downloaded from the web is the export's: VERIFY.txt
// passes on it.
func TestServeExportVerifies(t *testing.T) {
	w := newWebArchive(t)
	base := startServe(t, w.cfg)
	c := newClient(t, base)
	c.login("legal1", w.password)
	code, body, hdr := c.get("/export/" + url.PathEscape(w.ref))
	if code != 200 || hdr.Get("Content-Type") != "application/zip" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("export: %d %v", code, hdr)
	}
	zipFile := filepath.Join(t.TempDir(), "pack.zip")
	os.WriteFile(zipFile, []byte(body), 0o600)
	dir := t.TempDir()
	unzip(t, zipFile, dir)
	out, rc := verifyPack(t, dir, pins(w.root)...)
	if rc != 0 {
		t.Fatalf("VERIFY.txt on the downloaded pack: %d\n%s", rc, out)
	}
}
