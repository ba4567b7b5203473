package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/conserva/conserva/internal/testutil"
)

// TestServeBrowser drives a real headless Chromium through the pages, as
// each role, and writes screenshots of the main pages to
// $CONSERVA_WEB_SCREENSHOTS (else a temporary folder).
func TestServeBrowser(t *testing.T) {
	chromium := testutil.Tool(t, "chromium")
	w := newWebArchive(t)
	// A run that fails, for the run history.
	if r := conserva(t, append(w.cfg, "ingest", "/nonexistent/pec.eml")...); r.code != 1 {
		t.Fatalf("ingest of a missing file: %d %s", r.code, r.stderr)
	}
	base := startServe(t, w.cfg)
	shots := os.Getenv("CONSERVA_WEB_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	os.MkdirAll(shots, 0o755)

	// The flags keep Chromium off the network (it hangs on a closed one
	// otherwise) and out of any profile but a fresh one.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// A bound for the whole test (not a timing assertion: a hang fails).
	bctx, cancelTime := context.WithTimeout(bctx, 5*time.Minute)
	defer cancelTime()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	var dialogs atomic.Int32
	// as opens a fresh browser context (its own cookies) and signs in.
	as := func(user string) context.Context {
		t.Helper()
		ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Listen(ctx, func(ev any) {
			if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
				dialogs.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.ID("username"), user),
			chromedp.SendKeys(chromedp.ID("password"), w.password),
			chromedp.Click(chromedp.ID("login-submit")),
			chromedp.WaitVisible(chromedp.CSS("nav")),
		)
		if err != nil {
			t.Fatalf("%s signs in: %v", user, err)
		}
		return ctx
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	html := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("html of %s: %v", sel, err)
		}
		return s
	}
	shot := func(ctx context.Context, name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
	}
	do := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Legal: search by Message-ID, then by address.
	legal := as("legal1")
	do(legal, "search by Message-ID",
		chromedp.SendKeys(chromedp.ID("q"), w.ref),
		chromedp.Click(chromedp.ID("search-submit")),
		chromedp.WaitVisible(chromedp.ID("results")))
	if got := text(legal, "#results"); !strings.Contains(got, "Decreto ingiuntivo") {
		t.Fatalf("search by Message-ID: %q", got)
	}
	do(legal, "search by address", chromedp.Navigate(base+"/search?q="+url.QueryEscape("c@pec.example")), chromedp.WaitVisible(chromedp.ID("results")))
	shot(legal, "search")
	res := html(legal, "#results")
	if !strings.Contains(text(legal, "#results"), xssSubject) || strings.Contains(res, "<img") || strings.Contains(res, "<script") {
		t.Fatalf("the XSS subject is not shown as text:\n%s", res)
	}
	// The dossier with its recipients' statuses.
	do(legal, "dossier", chromedp.Navigate(base+"/dossier/"+url.PathEscape(w.xssRef)), chromedp.WaitVisible(chromedp.ID("recipients")))
	shot(legal, "dossier")
	rec := text(legal, "#recipients")
	if !strings.Contains(rec, "c@pec.example") || !strings.Contains(rec, "delivered") || !strings.Contains(rec, "d@pec.example") || !strings.Contains(rec, "failed") {
		t.Fatalf("recipients: %q", rec)
	}
	// The message: the subject as text, the attachment listed.
	do(legal, "message", chromedp.Click(chromedp.CSS(`#timeline a[href^="/message/"]`)), chromedp.WaitVisible(chromedp.ID("subject")))
	shot(legal, "message")
	if got := text(legal, "#subject"); !strings.Contains(got, xssSubject) {
		t.Fatalf("message subject %q", got)
	}
	if got := text(legal, "#attachments"); !strings.Contains(got, "documento.pdf") {
		t.Fatalf("attachments %q", got)
	}
	// Hold, and a form without its csrf token refused.
	dossierURL := base + "/dossier/" + url.PathEscape(w.ref)
	do(legal, "hold", chromedp.Navigate(dossierURL), chromedp.Click(chromedp.ID("hold")), chromedp.WaitVisible(chromedp.ID("unhold")))
	if got := text(legal, "#hold-state"); !strings.Contains(got, "under legal hold") {
		t.Fatalf("after hold: %q", got)
	}
	do(legal, "unhold without csrf",
		chromedp.SetAttributeValue(chromedp.CSS(`form[action^="/unhold/"] input[name="csrf"]`), "value", ""),
		chromedp.Click(chromedp.ID("unhold")),
		chromedp.WaitVisible(chromedp.CSS("p.error")))
	if got := text(legal, "h1"); got != "Forbidden" {
		t.Fatalf("a form without csrf: %q", got)
	}
	// The evidence pack, downloaded by the browser, verifies.
	dl := t.TempDir()
	do(legal, "download", chromedp.Navigate(dossierURL),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl,
				BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
			return err
		}),
		chromedp.Click(chromedp.ID("export")))
	var zipFile string
	for zipFile == "" {
		if legal.Err() != nil {
			t.Fatal("the evidence pack was not downloaded")
		}
		entries, _ := os.ReadDir(dl)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".zip") {
				zipFile = filepath.Join(dl, e.Name())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	packDir := t.TempDir()
	unzip(t, zipFile, packDir)
	if out, rc := verifyPack(t, packDir, pins(w.root)...); rc != 0 {
		t.Fatalf("VERIFY.txt of the downloaded pack: %d\n%s", rc, out)
	}

	// Auditor: a hold form made up from a valid page is refused; the
	// access log shows it all.
	aud := as("auditor1")
	do(aud, "auditor hold",
		chromedp.Navigate(dossierURL), chromedp.WaitVisible(chromedp.ID("recipients")),
		chromedp.SetAttributeValue(chromedp.CSS(`form[action="/logout"]`), "action", "/hold/"+url.PathEscape(w.ref)),
		chromedp.Click(chromedp.CSS(`header form button`)),
		chromedp.WaitVisible(chromedp.CSS("p.error")))
	if got := text(aud, "h1"); got != "Forbidden" {
		t.Fatalf("auditor hold: %q", got)
	}
	do(aud, "access log", chromedp.Navigate(base+"/accesslog"), chromedp.WaitVisible(chromedp.ID("accesslog")))
	shot(aud, "accesslog")
	log := text(aud, "#accesslog")
	for _, want := range []string{"legal1", "auditor1", "search", "dossier", "message", "hold", "export", "csrf-refused", "refused", "denied"} {
		if !strings.Contains(log, want) {
			t.Errorf("the access log lacks %q", want)
		}
	}
	if got := text(aud, "#chain"); !strings.Contains(got, "whole") {
		t.Errorf("chain: %q", got)
	}
	do(aud, "audit", chromedp.Navigate(base+"/packages"), chromedp.WaitVisible(chromedp.ID("packages")))
	shot(aud, "packages")
	// The audit page: what the next seal takes, and no schedule known (no
	// nightly run recorded).
	do(aud, "audit page", chromedp.Click(chromedp.CSS(`nav a[href="/audit"]`)), chromedp.WaitVisible(chromedp.ID("next-seal")))
	shot(aud, "audit")
	if got := text(aud, "#next-seal"); !regexp.MustCompile(`[1-9][0-9]* messages not sealed yet · [1-9][0-9]* access log records not sealed yet · not scheduled: run .conserva run. nightly`).MatchString(got) {
		t.Errorf("next seal: %q", got)
	}

	// Records: statistics with the chart. Admin: users. Italian by switch.
	recs := as("records1")
	do(recs, "stats", chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	shot(recs, "stats")
	// The run history, newest first: the failed ingest with its error,
	// then the seal and ingest runs that made the archive.
	do(recs, "runs", chromedp.Click(chromedp.CSS(`nav a[href="/runs"]`)), chromedp.WaitVisible(chromedp.ID("runs")))
	shot(recs, "runs")
	first := text(recs, "#runs tbody tr:first-child")
	for _, want := range []string{"ingest", "findings", "/nonexistent/pec.eml", "errors: 1", "seen: 0"} {
		if !strings.Contains(first, want) {
			t.Errorf("the last run lacks %q: %q", want, first)
		}
	}
	all := text(recs, "#runs")
	for _, want := range []string{"seal", "messages sealed: ", "archived: ", "ok"} {
		if !strings.Contains(all, want) {
			t.Errorf("the run history lacks %q: %q", want, all)
		}
	}
	do(recs, "runs in Italian", chromedp.Click(chromedp.CSS("a.lang")), chromedp.WaitVisible(chromedp.ID("runs")))
	if got := text(recs, "h1"); got != "Esecuzioni" || !strings.Contains(text(recs, "#runs"), "con rilievi") {
		t.Errorf("the run history in Italian: %q", got)
	}
	adm := as("admin1")
	do(adm, "users", chromedp.WaitVisible(chromedp.ID("users")), chromedp.Click(chromedp.CSS("a.lang")), chromedp.WaitVisible(chromedp.ID("users")))
	if got := text(adm, "h1"); got != "Utenti" {
		t.Errorf("the language switch: %q", got)
	}
	if n := dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened", n)
	}
	// Control: the listener does see a dialog on a page that runs script.
	ctl, cancelCtl := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer cancelCtl()
	var seen atomic.Int32
	chromedp.Listen(ctl, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			seen.Add(1)
		}
	})
	do(ctl, "control page", chromedp.Navigate(`data:text/html,<body onload="setTimeout(function(){alert(1)},0)">x</body>`))
	for seen.Load() == 0 {
		if ctl.Err() != nil {
			t.Fatal("the dialog listener saw nothing on a page that opens one")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("screenshots in %s", shots)
}
