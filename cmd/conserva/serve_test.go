package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const xssSubject = `<script>alert(1)</script> "><img src=x onerror=alert(1)>`

// webArchive is a sealed archive with two dossiers (one whose subject is
// an XSS payload, with a failed recipient) and one user of each role.
type webArchive struct {
	cfg      []string
	home     string
	ref      string // the Message-ID of the ordinary dossier
	xssRef   string
	root     string // the pinned dev CA fingerprint, for VERIFY.txt
	password string
}

func newWebArchive(t *testing.T) *webArchive {
	t.Helper()
	set, cfg, ref, root := sealedDossier(t)
	w := &webArchive{cfg: cfg, home: cfg[1], ref: ref, root: root, password: "s3cret-passw0rd"}
	src := t.TempDir()
	files, err := set.Provider.Dossier(xssSubject, []string{"c@pec.example"}, []string{"d@pec.example"}, []byte("<html><script>alert(2)</script></html>"), set.CA.Cert.NotBefore.AddDate(1, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range files {
		os.WriteFile(filepath.Join(src, name), raw, 0o644)
	}
	if r := conserva(t, append(cfg, "ingest", "--trust", set.TrustPEM, src)...); r.code != 0 {
		t.Fatalf("ingest: %s", r.stderr)
	}
	for _, row := range decodeLines(t, conserva(t, append(cfg, "search", "--json", "--kind", "accettazione")...).stdout) {
		if row["ref_message_id"] != ref {
			w.xssRef = row["ref_message_id"].(string)
		}
	}
	for _, role := range []string{"legal", "auditor", "records", "admin"} {
		if r := conservaIn(t, w.password+"\n", append(cfg, "user", "add", role+"1", "--role", role)...); r.code != 0 {
			t.Fatalf("user add: %d %s", r.code, r.stderr)
		}
	}
	return w
}

// conservaIn runs the CLI with stdin.
func conservaIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errOut.String(), code}
}

// startServe runs `conserva serve` on a free loopback port and returns its URL.
func startServe(t *testing.T, cfg []string, extra ...string) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(append(cfg, "serve", "--addr", "127.0.0.1:0", "--json"), extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if strings.Contains(stderr.String(), "panic") {
			t.Errorf("serve stderr: %s", stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Wait()
		t.Fatalf("serve did not start: %v %s", err, stderr.String())
	}
	var started struct{ URL string }
	if err := json.Unmarshal([]byte(line), &started); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(started.URL, "/")
}

type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t, base, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *webClient) get(path string, accept ...string) (int, string, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	if len(accept) > 0 {
		req.Header.Set("Accept", accept[0])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (c *webClient) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	resp, err := c.c.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *webClient) csrf(path string) string {
	c.t.Helper()
	_, body, _ := c.get(path)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no csrf field on %s", path)
	}
	return m[1]
}

func (c *webClient) login(user, password string) int {
	c.t.Helper()
	code, _ := c.post("/login", url.Values{"username": {user}, "password": {password}, "csrf": {c.csrf("/login")}})
	return code
}

func TestServeHTTP(t *testing.T) {
	w := newWebArchive(t)
	if r := conserva(t, append(w.cfg, "audit")...); r.code > 1 {
		t.Fatalf("audit: %d %s", r.code, r.stderr)
	}
	base := startServe(t, w.cfg)
	anon := newClient(t, base)
	if code, body, _ := anon.get("/healthz"); code != 200 || body != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	// Unauthenticated: a browser goes to /login, a script gets 401.
	if code, _, h := anon.get("/search?q=x", "text/html"); code != http.StatusSeeOther || h.Get("Location") != "/login" {
		t.Fatalf("unauthenticated page: %d %s", code, h.Get("Location"))
	}
	if code, _, _ := anon.get("/export/" + url.PathEscape(w.ref)); code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated script: %d", code)
	}
	// Login: CSRF, uniform errors.
	if code, _ := anon.post("/login", url.Values{"username": {"legal1"}, "password": {w.password}}); code != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", code)
	}
	_, wrongPw := anon.post("/login", url.Values{"username": {"legal1"}, "password": {"nope-nope"}, "csrf": {anon.csrf("/login")}})
	_, noUser := anon.post("/login", url.Values{"username": {"nobody"}, "password": {"nope-nope"}, "csrf": {anon.csrf("/login")}})
	if !strings.Contains(wrongPw, "Wrong user name or password.") || stripTokens(wrongPw) != stripTokens(noUser) {
		t.Fatalf("the errors for a wrong password and an unknown user differ")
	}
	legal := newClient(t, base)
	if code := legal.login("legal1", w.password); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	// Search by Message-ID and by address, and the XSS subject as text.
	_, body, hdr := legal.get("/search?q=" + url.QueryEscape(w.ref))
	if !strings.Contains(body, "Decreto ingiuntivo") {
		t.Fatalf("search by Message-ID found nothing:\n%s", body)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	_, body, _ = legal.get("/search?q=c%40pec.example")
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, `<img src=x`) || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the XSS subject is not escaped:\n%s", body)
	}
	if _, body, _ := legal.get("/search?q=c%40pec.example&source=no-such-mailbox&sort=subject"); !strings.Contains(body, "0 results") {
		t.Fatal("the source filter kept messages from another source")
	}
	if _, body, _ := legal.get("/search?q=c%40pec.example&source=eml&sort=subject"); strings.Contains(body, "0 results") {
		t.Fatal("the source filter dropped the messages of that source")
	}
	// Dossier: statuses; unknown ids 404.
	code, body, _ := legal.get("/dossier/" + url.PathEscape(w.xssRef))
	if code != 200 || !strings.Contains(body, "d@pec.example") || !strings.Contains(body, ">failed<") || !strings.Contains(body, ">delivered<") || strings.Contains(body, "<script>alert") {
		t.Fatalf("dossier: %d\n%s", code, body)
	}
	for _, bad := range []string{"/dossier/ffffffffff", "/dossier/%3Cnope%40x%3E", "/message/" + strings.Repeat("0", 64), "/message/..%2f..%2fetc%2fpasswd", "/nowhere"} {
		if code, _, _ := legal.get(bad); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, code)
		}
	}
	// The message view: headers and the body as text; the HTML never live.
	id := regexp.MustCompile(`/message/([0-9a-f]{64})`).FindStringSubmatch(body)
	if id == nil {
		t.Fatal("no message link in the dossier")
	}
	code, body, _ = legal.get("/message/" + id[1])
	if code != 200 || strings.Contains(body, "<script>alert") || !strings.Contains(body, "Message-Id") || !strings.Contains(body, "documento.pdf") {
		t.Fatalf("message: %d\n%s", code, body)
	}
	// Its attachment downloads as a file, never as a page.
	part := regexp.MustCompile(`href="(/message/[0-9a-f]{64}/part/[0-9.]+)" download>documento.pdf<`).FindStringSubmatch(body)
	if part == nil {
		t.Fatalf("no download link for the attachment:\n%s", body)
	}
	code, got, hdr := legal.get(part[1])
	if code != 200 || got != "<html><script>alert(2)</script></html>" || hdr.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(hdr.Get("Content-Disposition"), `attachment; filename="documento.pdf"`) {
		t.Fatalf("attachment: %d %q %v", code, got, hdr)
	}
	if code, _, _ := legal.get(part[1] + ".99"); code != http.StatusNotFound {
		t.Fatalf("a part that does not exist: %d", code)
	}
	// Hold: legal with csrf; without it 403.
	holdPath := "/hold/" + url.PathEscape(w.ref)
	if code, _ := legal.post(holdPath, url.Values{}); code != http.StatusForbidden {
		t.Fatalf("hold without csrf: %d", code)
	}
	if code, _ := legal.post(holdPath, url.Values{"csrf": {legal.csrf("/search")}}); code != http.StatusSeeOther {
		t.Fatalf("hold: %d", code)
	}
	if r := conserva(t, append(w.cfg, "search", "--json", "--message-id", w.ref)...); !strings.Contains(r.stdout, `"legal_hold":true`) {
		t.Fatalf("the CLI does not see the hold: %s", r.stdout)
	}
	// Auditor: no hold, no content; sees the access log with it all.
	aud := newClient(t, base)
	if aud.login("auditor1", w.password) != http.StatusSeeOther {
		t.Fatal("auditor login")
	}
	if code, _ := aud.post("/unhold/"+url.PathEscape(w.ref), url.Values{"csrf": {aud.csrf("/search")}}); code != http.StatusForbidden {
		t.Fatalf("auditor unhold: %d", code)
	}
	if code, _, _ := aud.get("/export/" + url.PathEscape(w.ref)); code != http.StatusForbidden {
		t.Fatalf("auditor export: %d", code)
	}
	for _, p := range []string{"/packages", "/audit", "/stats", "/accesslog"} {
		if code, _, _ := aud.get(p); code != 200 {
			t.Errorf("auditor %s: %d", p, code)
		}
		if code, _, _ := legal.get(p); code != http.StatusForbidden && p != "/stats" {
			t.Errorf("legal %s: %d, want 403", p, code)
		}
	}
	if _, body, _ := aud.get("/packages"); !strings.Contains(body, "signature, timestamp and contents verified") {
		t.Errorf("packages page without the audit's verdict:\n%s", body)
	}
	if _, body, _ := aud.get("/audit"); !strings.Contains(body, `id="last-audit"`) {
		t.Errorf("audit page without the last audit")
	}
	_, body, _ = aud.get("/accesslog")
	for _, want := range []string{"Hash chain whole", ">hold<", ">search<", ">dossier<", ">message<", ">login<", "auditor1", "legal1", ">denied<"} {
		if !strings.Contains(body, want) {
			t.Errorf("the access log page lacks %q", want)
		}
	}
	// Records and admin see their pages only.
	rec := newClient(t, base)
	rec.login("records1", w.password)
	if code, body, _ := rec.get("/stats"); code != 200 || !strings.Contains(body, "<svg") {
		t.Errorf("records /stats: %d", code)
	}
	if code, _, _ := rec.get("/accesslog"); code != http.StatusForbidden {
		t.Errorf("records /accesslog: %d", code)
	}
	adm := newClient(t, base)
	adm.login("admin1", w.password)
	if code, body, _ := adm.get("/users"); code != 200 || !strings.Contains(body, "legal1") || strings.Contains(body, "argon2id") {
		t.Errorf("admin /users: %d", code)
	}
	// Italian.
	req, _ := http.NewRequest("GET", base+"/login", nil)
	req.Header.Set("Accept-Language", "it-IT,it;q=0.9,en;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	itBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(itBody), "Nome utente") {
		t.Error("no Italian for Accept-Language: it")
	}
	// Logout ends the session.
	legal.post("/logout", url.Values{"csrf": {legal.csrf("/search")}})
	if code, _, _ := legal.get("/search?q=x"); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d", code)
	}
	// A seal beside the server seals the access log so far; the page says
	// how far.
	if _, body, _ := aud.get("/accesslog"); !strings.Contains(body, "No record sealed in a package yet") {
		t.Errorf("the access log page before a seal:\n%s", body)
	}
	if r := conserva(t, append(w.cfg, "seal")...); r.code != 0 || !strings.Contains(r.stdout, "access log records 1 to ") {
		t.Fatalf("seal beside serve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, body, _ := aud.get("/accesslog"); !regexp.MustCompile(`Sealed in packages up to record [1-9]`).MatchString(body) {
		t.Errorf("the access log page after a seal:\n%s", body)
	}
	// The access log's chain verifies, and one changed byte breaks it.
	if r := conserva(t, append(w.cfg, "accesslog", "verify")...); r.code != 0 || !strings.Contains(r.stdout, "whole") {
		t.Fatalf("accesslog verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := conserva(t, append(w.cfg, "accesslog", "show", "--json")...); len(decodeLines(t, r.stdout)) < 10 {
		t.Fatalf("accesslog show: %s", r.stdout)
	}
	logPath := filepath.Join(w.home, "accesslog.jsonl")
	data, _ := os.ReadFile(logPath)
	i := bytes.Index(data, []byte(`"user":"legal1"`)) + len(`"user":"l`)
	data[i] = 'L'
	os.WriteFile(logPath, data, 0o600)
	if r := conserva(t, append(w.cfg, "accesslog", "verify")...); r.code != 1 || !strings.Contains(r.stdout, "BROKEN") {
		t.Fatalf("accesslog verify after a changed byte: %d %s", r.code, r.stdout)
	}
	// Audit names it, and the audit page shows what the last audit named.
	if r := conserva(t, append(w.cfg, "audit")...); r.code != 1 || !strings.Contains(r.stdout, "PROBLEM accesslog.jsonl:") {
		t.Fatalf("audit after a changed byte of the access log: %d %s", r.code, r.stdout)
	}
	if _, body, _ := aud.get("/audit"); !strings.Contains(body, "accesslog.jsonl:") || !strings.Contains(body, "does not match its hash") {
		t.Errorf("the audit page does not name the last audit's problems:\n%s", body)
	}
	// The run history: records, auditor and admin; not legal.
	for c, want := range map[*webClient]int{rec: 200, aud: 200, adm: 200, legal: http.StatusUnauthorized} {
		if code, body, _ := c.get("/runs"); code != want || (code == 200 && !strings.Contains(body, ">audit<")) {
			t.Errorf("/runs: %d, want %d", code, want)
		}
	}
	legal2 := newClient(t, base)
	legal2.login("legal1", w.password)
	if code, _, _ := legal2.get("/runs"); code != http.StatusForbidden {
		t.Errorf("legal /runs: %d, want 403", code)
	}
}

// stripTokens removes what differs between two renderings of one page.
func stripTokens(s string) string {
	s = csrfField.ReplaceAllString(s, "")
	return regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`).ReplaceAllString(s, "")
}

func TestServeRefusesPlainHTTPOnTheNetwork(t *testing.T) {
	home := filepath.Join(t.TempDir(), "a")
	r := conserva(t, "--archive", home, "serve", "--addr", "0.0.0.0:0")
	if r.code != 2 || !strings.Contains(r.stderr, "--insecure-http") {
		t.Fatalf("%d %s", r.code, r.stderr)
	}
	if r := conserva(t, "--archive", home, "serve", "--tls-cert", "x.pem"); r.code != 2 {
		t.Fatalf("cert without key: %d %s", r.code, r.stderr)
	}
}

func TestUserCommands(t *testing.T) {
	home := filepath.Join(t.TempDir(), "a")
	cfg := []string{"--archive", home}
	if r := conservaIn(t, "short\n", append(cfg, "user", "add", "anna", "--role", "legal")...); r.code != 2 {
		t.Fatalf("short password: %d %s", r.code, r.stderr)
	}
	if r := conservaIn(t, "long-enough-pw\n", append(cfg, "user", "add", "anna", "--role", "root")...); r.code != 2 {
		t.Fatalf("bad role: %d %s", r.code, r.stderr)
	}
	if r := conservaIn(t, "long-enough-pw\n", append(cfg, "user", "add", "anna", "--role", "legal")...); r.code != 0 || strings.Contains(r.stdout+r.stderr, "long-enough-pw") {
		t.Fatalf("add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	conserva(t, append(cfg, "user", "disable", "anna")...)
	r := conserva(t, append(cfg, "user", "list", "--json")...)
	rows := decodeLines(t, r.stdout)
	if len(rows) != 1 || rows[0]["disabled"] != true || strings.Contains(r.stdout, "argon2") {
		t.Fatalf("list: %s", r.stdout)
	}
	if data, _ := os.ReadFile(filepath.Join(home, "catalog.db")); bytes.Contains(data, []byte("long-enough-pw")) {
		t.Fatal("the password is in the catalog")
	}
	// A disabled user cannot log in.
	base := startServe(t, cfg)
	c := newClient(t, base)
	if code := c.login("anna", "long-enough-pw"); code != http.StatusUnauthorized {
		t.Fatalf("disabled login: %d", code)
	}
	// Throttling: after 5 failures even the right password waits; another
	// user from the same address does not.
	conservaIn(t, "long-enough-pw\n", append(cfg, "user", "add", "bob", "--role", "auditor")...)
	conservaIn(t, "long-enough-pw\n", append(cfg, "user", "add", "carla", "--role", "auditor")...)
	for range 5 {
		if code := c.login("bob", "wrong-password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", code)
		}
	}
	if code := c.login("bob", "long-enough-pw"); code != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: %d, want 429", code)
	}
	if code := newClient(t, base).login("carla", "long-enough-pw"); code != http.StatusSeeOther {
		t.Fatalf("another user: %d", code)
	}
}

// With --tls-cert/--tls-key it serves HTTPS, and its cookies are Secure.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	base := startServe(t, []string{"--archive", filepath.Join(dir, "a")}, "--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"))
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("url %s", base)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) == 0 || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookies over TLS: %+v", cookies)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS over TLS")
	}
}
