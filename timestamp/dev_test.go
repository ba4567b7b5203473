package timestamp_test

import (
	"context"
	"crypto/sha256"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/conserva/conserva/internal/devpki"
	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/internal/testutil"
	"github.com/conserva/conserva/timestamp"
)

func TestDevTSAVerifiedByOpenSSL(t *testing.T) {
	openssl := testutil.Tool(t, "openssl")
	dir := t.TempDir()
	keys, err := devpki.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	dev := &timestamp.Dev{Cert: keys.TSA.Cert, Key: keys.TSA.Key, Chain: keys.TSA.Chain}
	srv := httptest.NewServer(dev.Handler())
	defer srv.Close()
	content := []byte("index.xml.p7s bytes")
	for name, auth := range map[string]timestamp.Authority{"in-process": dev, "http": timestamp.NewHTTP(srv.URL, "", "", nil, false)} {
		tok, err := auth.Timestamp(context.Background(), content)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if time.Since(tok.Time) > time.Minute {
			t.Fatalf("%s: time %v", name, tok.Time)
		}
		data, tsr, ca := filepath.Join(dir, "data"), filepath.Join(dir, name+".tsr"), filepath.Join(dir, "ca.pem")
		os.WriteFile(data, content, 0o644)
		os.WriteFile(tsr, tok.Response, 0o644)
		os.WriteFile(ca, pecgen.PEM(keys.CA), 0o644)
		out, err := exec.Command(openssl, "ts", "-verify", "-data", data, "-in", tsr, "-CAfile", ca).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: openssl ts -verify: %v\n%s", name, err, out)
		}
		// The imprint is SHA-256 of the content.
		sum := sha256.Sum256([]byte("other"))
		os.WriteFile(data, sum[:], 0o644)
		if out, err := exec.Command(openssl, "ts", "-verify", "-data", data, "-in", tsr, "-CAfile", ca).CombinedOutput(); err == nil {
			t.Fatalf("%s: openssl accepted the token for other data:\n%s", name, out)
		}
	}
}
