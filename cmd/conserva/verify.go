package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/conserva/conserva/internal/bytesize"
	"github.com/conserva/conserva/pec"
	"github.com/urfave/cli/v3"
)

// verifyResult is one line of `conserva verify --json`.
type verifyResult struct {
	File string `json:"file"`
	*pec.Message
	pec.Verification
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "classify PEC files and check their provider signatures",
		ArgsUsage: "FILE...",
		Description: "Prints, for each file, its PEC kind and the verdict on the provider's signature:\n" +
			"valid, invalid, untrusted or absent, judged at the signing time.\n" +
			"Exit status: 0 when every file is valid, 1 when any is not, 2 on usage or I/O errors.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "trust", Usage: "trust anchors: a PEM bundle of CA or provider certificates, or an IGPEC LDIF export", Sources: cli.EnvVars("CONSERVA_TRUST")},
			&cli.StringFlag{Name: "max-size", Value: "200MB", Usage: "largest message to parse (e.g. 200MB, 1GB)"},
			jsonFlag(),
		},
		Action: runVerify,
	}
}

func runVerify(ctx context.Context, cmd *cli.Command) error {
	files := cmd.Args().Slice()
	if len(files) == 0 {
		return usageErrorf("verify: no FILE given (see conserva verify --help)")
	}
	lim := pec.DefaultLimits()
	size, err := bytesize.Parse(cmd.String("max-size"))
	if err != nil {
		return usageErrorf("verify: --max-size: %v", err)
	}
	lim.MaxSize = size
	var trust *pec.TrustStore
	if path := cmd.String("trust"); path != "" {
		if trust, err = pec.LoadTrustFile(path); err != nil {
			return usageErrorf("%v", err)
		}
	}
	out := cmd.Root().Writer
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	allValid, ioErrors := true, 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, v, err := verifyFile(f, lim, trust)
		if err != nil {
			fmt.Fprintf(cmd.Root().ErrWriter, "conserva: %s: %v\n", f, err)
			ioErrors++
			continue
		}
		res := verifyResult{File: f, Message: msg, Verification: v}
		if res.Verdict != pec.Valid {
			allValid = false
		}
		if cmd.Bool("json") {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		printVerifyLine(out, res)
	}
	switch {
	case ioErrors > 0:
		return &exitError{code: exitUsage, msg: fmt.Sprintf("%d file(s) could not be read", ioErrors)}
	case !allValid:
		return findings()
	}
	return nil
}

// verifyFile reads and verifies one file; one larger than the limit is
// only hashed, by streaming, and reported as not verified.
func verifyFile(path string, lim pec.Limits, trust *pec.TrustStore) (*pec.Message, pec.Verification, error) {
	m, f, err := readMessage(path, lim)
	if err != nil {
		return nil, pec.Verification{}, err
	}
	defer f.Close() // a large message is read from the file while verified
	v := m.Verify(trust)
	if v.ReadErr != nil {
		return nil, v, v.ReadErr
	}
	return m, v, nil
}

func readMessage(path string, lim pec.Limits) (*pec.Message, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := parseFile(f, lim)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return m, f, nil
}

func parseFile(f *os.File, lim pec.Limits) (*pec.Message, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("is a directory")
	}
	if st.Size() > lim.MaxSize {
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return nil, err
		}
		return pec.TooLarge(hex.EncodeToString(h.Sum(nil)), n, lim), nil
	}
	if st.Size() > 16<<20 {
		// Read where it lies, not into memory (the file must not change
		// while it is checked).
		return pec.ParseReaderAt(f, st.Size(), "", lim), nil
	}
	raw, err := io.ReadAll(io.LimitReader(f, lim.MaxSize+1))
	if err != nil {
		return nil, err
	}
	return pec.Parse(raw, lim), nil
}

func printVerifyLine(w io.Writer, r verifyResult) {
	kind := string(r.Kind)
	if r.ReceiptType != "" {
		kind += " (" + r.ReceiptType + ")"
	}
	signer, when := "-", "-"
	if r.Signer != "" {
		signer = r.Signer
	}
	if r.SignedAt != nil {
		when = r.SignedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%s: %s, %s, signer %s, signed %s: %s\n", r.File, kind, r.Verdict, signer, when, r.Reason)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}
