package timestamp

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"net/http"
	"time"

	dtimestamp "github.com/digitorus/timestamp"
)

// DevPolicy is the policy OID of the development TSA (a private arc, no
// legal value).
var DevPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}

// Dev is the development TSA: a local key and certificate with a critical
// timeStamping EKU. Its timestamps have no legal value.
type Dev struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // Cert first, then its CA
	Now   func() time.Time
}

func (d *Dev) Name() string { return "conserva development TSA (no legal value)" }

// Respond answers a DER TimeStampReq with a DER TimeStampResp.
func (d *Dev) Respond(reqDER []byte) ([]byte, error) {
	req, err := dtimestamp.ParseRequest(reqDER)
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	ts := dtimestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              now().UTC(),
		Accuracy:          time.Second,
		Nonce:             req.Nonce,
		Policy:            DevPolicy,
		AddTSACertificate: req.Certificates,
		Certificates:      d.Chain[1:],
	}
	return ts.CreateResponseWithOpts(d.Cert, d.Key, crypto.SHA256)
}

// Timestamp stamps in process, through the same checks as a remote TSA.
func (d *Dev) Timestamp(ctx context.Context, content []byte) (Token, error) {
	req, der, err := request(content)
	if err != nil {
		return Token{}, err
	}
	resp, err := d.Respond(der)
	if err != nil {
		return Token{}, err
	}
	return accept(ctx, req, resp, d.roots())
}

// roots is the development TSA's own CA, which anchors its answers.
func (d *Dev) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(d.Chain[len(d.Chain)-1])
	return p
}

// Handler serves RFC 3161 over HTTP (application/timestamp-query).
func (d *Dev) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST an application/timestamp-query", http.StatusMethodNotAllowed)
			return
		}
		der, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := d.Respond(der)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(resp)
	})
}
