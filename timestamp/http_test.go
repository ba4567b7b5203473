package timestamp_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/conserva/conserva/timestamp"
)

// TestHTTPErrorsNeverNameThePassword: whichever request fails (content or
// digest), the error names the TSA without the password in its URL.
func TestHTTPErrorsNeverNameThePassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	const secret = "S3cr3tTSApw"
	url := strings.Replace(srv.URL, "http://", "http://user:"+secret+"@", 1)
	tsa := timestamp.NewHTTP(url, "", "", nil, false)
	sum := sha256.Sum256([]byte("x"))
	_, err1 := tsa.Timestamp(context.Background(), []byte("x"))
	_, err2 := tsa.TimestampDigest(context.Background(), crypto.SHA256, sum[:])
	for _, err := range []error{err1, err2} {
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("error %v: want a 503 naming the TSA without its password", err)
		}
	}
}
