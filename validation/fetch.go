// Package validation keeps what a verifier needs, years later, to judge a
// certificate chain without any online service of today: the certificates
// and their revocation information (CRLs from the CRL distribution points,
// or OCSP answers where a certificate offers only an OCSP responder).
//
// Collect fetches them for a chain; Check judges a chain against what a
// Bundle holds at a given time (signing or timestamp time). Trust never
// comes from the bundle: Check takes a chain already built to pinned roots,
// and a CRL counts only when it is signed by the issuer in that chain.
package validation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/conserva/conserva/internal/redact"
)

// Limits of a fetch: a CRL of a large CA can be tens of megabytes, but no
// answer may hold a seal for minutes or fill the memory.
const (
	DefaultMaxSize = 32 << 20
	DefaultTimeout = 20 * time.Second
)

// Fetcher gets revocation information. HTTP is the real one; tests point
// it at a local server, and the development CA answers in process (Local).
type Fetcher interface {
	// Get returns the body of an http:// URL (a CRL).
	Get(ctx context.Context, url string) ([]byte, error)
	// Post sends body and returns the answer (an OCSP request).
	Post(ctx context.Context, url, contentType string, body []byte) ([]byte, error)
}

// HTTP fetches over plain HTTP, as CRL distribution points and OCSP
// responders publish (RFC 5280 §4.2.1.13, RFC 6960 App. A): the data are
// signed, TLS adds nothing and would itself need revocation checking.
type HTTP struct {
	Client  *http.Client
	MaxSize int64 // bytes of one answer; 0: DefaultMaxSize
}

// NewHTTP is an HTTP fetcher with DefaultTimeout and DefaultMaxSize.
func NewHTTP() *HTTP {
	return &HTTP{Client: &http.Client{Timeout: DefaultTimeout, CheckRedirect: httpOnly}, MaxSize: DefaultMaxSize}
}

// httpOnly follows a redirect only to another http:// URL, at most 3:
// a distribution point must not send the fetch elsewhere (https, with
// its own trust, or further than a CDN's hop or two).
func httpOnly(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "http" {
		return fmt.Errorf("redirected to %s: only http:// URLs are fetched", req.URL.Redacted())
	}
	if len(via) > 3 {
		return fmt.Errorf("more than 3 redirects, the last to %s", req.URL.Redacted())
	}
	return nil
}

func (h *HTTP) Get(ctx context.Context, url string) ([]byte, error) {
	return h.do(ctx, http.MethodGet, url, "", nil)
}

func (h *HTTP) Post(ctx context.Context, url, contentType string, body []byte) ([]byte, error) {
	return h.do(ctx, http.MethodPost, url, contentType, body)
}

func (h *HTTP) do(ctx context.Context, method, url, contentType string, body []byte) ([]byte, error) {
	data, err := h.fetch(ctx, method, url, contentType, body)
	if err != nil {
		// A URL comes from a certificate or the configuration and may carry
		// a password or a key: never shown (rule 6), however the error says it.
		return nil, fmt.Errorf("%s: %s", redact.URL(url), redact.Text(err.Error()))
	}
	return data, nil
}

func (h *HTTP) fetch(ctx context.Context, method, url, contentType string, body []byte) ([]byte, error) {
	if !strings.HasPrefix(strings.ToLower(url), "http://") {
		return nil, errors.New("only http:// URLs are fetched")
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: DefaultTimeout, CheckRedirect: httpOnly}
	}
	resp, err := c.Do(req)
	var ue *neturl.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text quotes the URL: said once, redacted, by do
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	limit := h.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return data, nil
}

// Local answers some URLs in process and passes the others to Next: the
// development CA's CRL is made from its key where no server runs.
type Local struct {
	URLs map[string]func(ctx context.Context) ([]byte, error)
	Next Fetcher
}

func (l *Local) Get(ctx context.Context, url string) ([]byte, error) {
	if f, ok := l.URLs[url]; ok {
		return f(ctx)
	}
	return l.Next.Get(ctx, url)
}

func (l *Local) Post(ctx context.Context, url, contentType string, body []byte) ([]byte, error) {
	return l.Next.Post(ctx, url, contentType, body)
}
