package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/conserva/conserva/ers"
	"github.com/urfave/cli/v3"
)

// verifyERSResult is `conserva verify-ers --json`.
type verifyERSResult struct {
	Record  string      `json:"record"`
	Data    string      `json:"data"`
	Verdict string      `json:"verdict"` // valid, invalid or untrusted
	Reason  string      `json:"reason,omitempty"`
	Stamps  []ers.Stamp `json:"stamps,omitempty"`
	Expires *time.Time  `json:"expires,omitempty"` // renew before
}

func verifyERSCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify-ers",
		Usage:     "check an RFC 4998 evidence record (.ers) against the file it proves",
		ArgsUsage: "FILE.ers DATA",
		Description: "Checks the record's hash tree against DATA's bytes, every archive timestamp against the TSA roots\n" +
			"(--tsa-roots, else the archive's pinned TSA roots) and that the proof of time never lapsed.\n" +
			"Exit status: 0 when valid, 1 when invalid or untrusted, 2 on usage or I/O errors.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tsa-roots", Usage: "PEM file of the CA(s) trusted for archive timestamps (default: the archive's pinned TSA roots)"},
			jsonFlag(),
		},
		Action: runVerifyERS,
	}
}

func runVerifyERS(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() != 2 {
		return usageErrorf("verify-ers: give FILE.ers and DATA (see conserva verify-ers --help)")
	}
	recPath, dataPath := cmd.Args().Get(0), cmd.Args().Get(1)
	roots, err := ersRoots(cmd)
	if err != nil {
		return err
	}
	rec, err := readSmall(recPath, ers.MaxRecordSize)
	if err != nil {
		return usageErrorf("verify-ers: %v", err)
	}
	f, err := os.Open(dataPath)
	if err != nil {
		return usageErrorf("verify-ers: %v", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return usageErrorf("verify-ers: %s: not a regular file", dataPath)
	}
	v := &ers.Verifier{Roots: roots, At: time.Now()}
	res, err := v.VerifyReader(ctx, rec, f)
	out := verifyERSResult{Record: recPath, Data: dataPath, Verdict: "valid"}
	switch {
	case err == nil:
		out.Stamps = res.Stamps
		e := res.Expires().UTC()
		out.Expires = &e
	case errors.Is(err, ers.ErrUntrusted):
		out.Verdict, out.Reason = "untrusted", err.Error()
	case errors.Is(err, ers.ErrInvalid):
		out.Verdict, out.Reason = "invalid", err.Error()
	default:
		return usageErrorf("verify-ers: %v", err) // reading DATA failed: no verdict
	}
	w := cmd.Root().Writer
	if cmd.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if out.Verdict != "valid" {
		fmt.Fprintf(w, "%s: %s: %s\n", recPath, out.Verdict, out.Reason)
	} else {
		first, last := res.Stamps[0], res.Latest()
		fmt.Fprintf(w, "%s: valid: %s existed at %s (TSA %q); %d archive timestamp(s), the newest %s by %q, %s; renew before %s\n",
			recPath, dataPath, first.Time.UTC().Format(time.RFC3339), first.TSA, len(res.Stamps),
			last.Time.UTC().Format(time.RFC3339), last.TSA, last.Digest, out.Expires.Format("2006-01-02"))
	}
	if out.Verdict != "valid" {
		return findings()
	}
	return nil
}

// ersRoots are the TSA roots given, else the archive's pinned ones.
func ersRoots(cmd *cli.Command) (*x509.CertPool, error) {
	if p := cmd.String("tsa-roots"); p != "" {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, usageErrorf("--tsa-roots: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, usageErrorf("--tsa-roots: %s holds no PEM certificate", p)
		}
		return pool, nil
	}
	a, err := openArchive(cmd)
	if err != nil {
		return nil, usageErrorf("no --tsa-roots and %s", strings.TrimPrefix(err.Error(), "conserva: "))
	}
	defer a.Close()
	r, err := a.SealRoots(rootsOptions(cmd))
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return r.TSAPool(), nil
}

// readSmall reads a file of at most limit bytes.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, err
}
