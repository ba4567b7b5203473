// Command pecgen writes synthetic, signed PEC messages made with a
// throwaway provider CA: the bundled samples, and data for the bench.
// Their keys are development keys with no legal value.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/conserva/conserva/internal/pecgen"
	"github.com/conserva/conserva/pec"
)

func main() {
	out := flag.String("out", "", "directory to write into (created)")
	samples := flag.Bool("samples", false, "write the bundled samples: one dossier, a tampered copy, an ordinary mail")
	n := flag.Int("n", 0, "write N envelopes (for the bench)")
	attach := flag.Int("attachment", 50*1024, "attachment size in bytes for -n")
	flag.Parse()
	if *out == "" || (!*samples && *n == 0) {
		fmt.Fprintln(os.Stderr, "usage: pecgen -out DIR (-samples | -n N [-attachment BYTES])")
		os.Exit(2)
	}
	if err := run(*out, *samples, *n, *attach); err != nil {
		fmt.Fprintln(os.Stderr, "pecgen:", err)
		os.Exit(1)
	}
}

func run(dir string, samples bool, n, attach int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	now := time.Now()
	ca, err := pecgen.NewCA("conserva DEVELOPMENT PEC CA (no legal value)", now.Add(-time.Hour), now.Add(20*365*24*time.Hour))
	if err != nil {
		return err
	}
	prov, err := ca.NewProvider(pecgen.ProviderOptions{Name: "Posta Certificata Demo", Domain: "pec.demo.example",
		NotAfter: now.Add(15 * 365 * 24 * time.Hour)})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "trust.pem"), pecgen.PEM(ca.Cert), 0o644); err != nil {
		return err
	}
	write := func(name string, raw []byte) error { return os.WriteFile(filepath.Join(dir, name), raw, 0o644) }
	if samples {
		files, err := prov.Dossier("Fattura 2026/117", []string{"amministrazione@pec.cliente.example"},
			[]string{"vecchio.indirizzo@pec.cliente.example"}, []byte("%PDF-1.4 fattura di esempio\n"), now)
		if err != nil {
			return err
		}
		for name, raw := range files {
			if err := write(name, raw); err != nil {
				return err
			}
		}
		if err := write("05-tampered-posta-certificata.eml", pecgen.Tamper(files["01-posta-certificata.eml"])); err != nil {
			return err
		}
		plain, err := prov.Build(pecgen.Spec{Kind: pec.KindNotPEC, Subject: "Rinnovo casella", Sender: "assistenza@provider.example"})
		if err != nil {
			return err
		}
		if err := write("06-ordinary-mail.eml", plain); err != nil {
			return err
		}
	}
	payload := make([]byte, attach)
	_, _ = rand.Read(payload)
	for i := 0; i < n; i++ {
		if len(payload) > 0 {
			payload[0] = byte(i) // each message distinct (the subject is too)
		}
		raw, err := prov.Build(pecgen.Spec{Kind: pec.KindPostaCertificata, Subject: fmt.Sprintf("Documento %d", i), Attachment: payload})
		if err != nil {
			return err
		}
		if err := write(fmt.Sprintf("msg-%06d.eml", i), raw); err != nil {
			return err
		}
	}
	return nil
}
