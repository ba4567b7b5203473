package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Dovecot is a throwaway IMAP server for tests: its own configuration in a
// temp dir, plaintext auth on loopback, one passwd-file user, Maildir.
type Dovecot struct {
	Addr     string
	TLSAddr  string // implicit TLS (imaps), with StartDovecotTLS
	CertPEM  string // the server certificate file, with StartDovecotTLS
	User     string
	Password string
	dir      string
	bin      string
	uid, gid int
	t        testing.TB
}

// StartDovecot starts one. Under scripts/test.sh a missing dovecot fails the
// test; otherwise it is skipped.
func StartDovecot(t testing.TB) *Dovecot { return startDovecot(t, false) }

// StartDovecotTLS starts one that offers STARTTLS on Addr and implicit TLS on
// TLSAddr, with a self-signed certificate for 127.0.0.1 (CertPEM).
func StartDovecotTLS(t testing.TB) *Dovecot { return startDovecot(t, true) }

func startDovecot(t testing.TB, withTLS bool) *Dovecot {
	t.Helper()
	bin := os.Getenv("CONSERVA_TEST_DOVECOT")
	if bin == "" {
		bin = Tool(t, "dovecot")
	}
	// Mail processes run as the dovecot user: Dovecot refuses root there,
	// and its login processes run as dovenull.
	u, err := user.Lookup("dovecot")
	if err != nil {
		t.Fatalf("dovecot user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "conserva-dovecot")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	d := &Dovecot{Addr: fmt.Sprintf("127.0.0.1:%d", port), User: "pec", Password: "segreta-di-prova", dir: dir, bin: bin, uid: uid, gid: gid, t: t}
	sslConf, tlsPort := "ssl = no\n", 0
	if withTLS {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		tlsPort = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		d.TLSAddr = fmt.Sprintf("127.0.0.1:%d", tlsPort)
		d.CertPEM = filepath.Join(dir, "cert.pem")
		writeSelfSigned(t, d.CertPEM, filepath.Join(dir, "key.pem"))
		sslConf = fmt.Sprintf("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n", d.CertPEM, filepath.Join(dir, "key.pem"))
	}
	os.WriteFile(filepath.Join(dir, "users"), []byte(fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s/home/%s\n", d.User, d.Password, uid, gid, dir, d.User)), 0o644)
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = conserva-test-%[2]d
protocols = imap
listen = 127.0.0.1
%[4]sdisable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = %[3]d
last_valid_uid = %[3]d
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[5]d
  }
}
service anvil {
  chroot =
}
`, dir, port, uid, sslConf, tlsPort)
	os.WriteFile(filepath.Join(dir, "dovecot.conf"), []byte(conf), 0o644)
	for _, sub := range []string{"run", "state", "home/" + d.User + "/Maildir/cur", "home/" + d.User + "/Maildir/new", "home/" + d.User + "/Maildir/tmp"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	d.chownHome()
	d.Start()
	t.Cleanup(func() { d.Stop(); os.RemoveAll(dir) })
	return d
}

func (d *Dovecot) chownHome() {
	filepath.Walk(filepath.Join(d.dir, "home"), func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Chown(p, d.uid, d.gid)
		}
		return nil
	})
}

// Start runs the server and waits for its port.
func (d *Dovecot) Start() {
	d.t.Helper()
	// Dovecot daemonizes; its output goes to a file, never to a pipe that
	// the daemon would keep open.
	outFile, _ := os.Create(filepath.Join(d.dir, "start.out"))
	cmd := exec.Command(d.bin, "-c", filepath.Join(d.dir, "dovecot.conf"))
	cmd.Stdout, cmd.Stderr = outFile, outFile
	err := cmd.Run()
	outFile.Close()
	if err != nil {
		out, _ := os.ReadFile(filepath.Join(d.dir, "start.out"))
		log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
		d.t.Fatalf("starting dovecot: %v\n%s\n%s", err, out, log)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", d.Addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	d.t.Fatalf("dovecot did not listen on %s:\n%s", d.Addr, log)
}

// Stop stops the server at once (all its processes).
func (d *Dovecot) Stop() {
	stop := exec.Command(d.bin, "-c", filepath.Join(d.dir, "dovecot.conf"), "stop")
	stop.Stdout, stop.Stderr = nil, nil
	stop.Run()
	for i := 0; i < 50; i++ {
		if c, err := net.Dial("tcp", d.Addr); err != nil {
			return
		} else {
			c.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Deliver puts a message into the INBOX (Maildir new/) as the MTA would.
func (d *Dovecot) Deliver(name string, raw []byte) {
	p := filepath.Join(d.dir, "home", d.User, "Maildir", "new", name)
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		d.t.Fatal(err)
	}
	os.Chown(p, d.uid, d.gid)
}

// ResetUIDValidity makes Dovecot forget the mailbox's UIDs, so that the
// next session sees a new UIDVALIDITY.
func (d *Dovecot) ResetUIDValidity() {
	md := filepath.Join(d.dir, "home", d.User, "Maildir")
	matches, _ := filepath.Glob(filepath.Join(md, "dovecot*"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// MaildirFiles lists the stored message files (to check flags: ":2,S" is \Seen).
func (d *Dovecot) MaildirFiles() []string {
	var out []string
	for _, sub := range []string{"cur", "new"} {
		m, _ := filepath.Glob(filepath.Join(d.dir, "home", d.User, "Maildir", sub, "*"))
		out = append(out, m...)
	}
	return out
}

// writeSelfSigned makes a throwaway certificate for 127.0.0.1.
func writeSelfSigned(t testing.TB, certPath, keyPath string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	k8, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}), 0o600)
}
