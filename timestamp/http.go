package timestamp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/conserva/conserva/internal/redact"
)

// HTTP is a TSA reached over HTTP(S) (RFC 3161 §3.4).
type HTTP struct {
	URL      string
	User     string // basic auth, as qualified TSAs require
	Password string
	Roots    *x509.CertPool // the TSA's trust anchors; nil: token certificates only
	Client   *http.Client
}

// NewHTTP makes an HTTP authority; insecure skips TLS certificate checks
// (for test TSAs only).
func NewHTTP(url, user, password string, roots *x509.CertPool, insecure bool) *HTTP {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // explicit user choice
	}
	return &HTTP{URL: url, User: user, Password: password, Roots: roots, Client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (h *HTTP) Name() string { return h.URL }

func (h *HTTP) Timestamp(ctx context.Context, content []byte) (Token, error) {
	req, der, err := request(content)
	if err != nil {
		return Token{}, err
	}
	body, err := h.post(ctx, der)
	if err != nil {
		return Token{}, err
	}
	tok, err := accept(ctx, req, body, h.Roots)
	if err != nil {
		return Token{}, fmt.Errorf("TSA %s: %w", redact.URL(h.URL), err)
	}
	return tok, nil
}

// post sends a DER TimeStampReq and returns the TSA's answer as sent. The
// TSA's URL is named in errors without its password.
func (h *HTTP) post(ctx context.Context, der []byte) ([]byte, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(der))
	if err != nil {
		return nil, fmt.Errorf("TSA %s: %w", redact.URL(h.URL), err)
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	if h.User != "" {
		hreq.SetBasicAuth(h.User, h.Password)
	}
	resp, err := h.Client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("TSA %s: %w", redact.URL(h.URL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("TSA %s: %w", redact.URL(h.URL), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("TSA %s: HTTP %s", redact.URL(h.URL), resp.Status)
	}
	return body, nil
}
