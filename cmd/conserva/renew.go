package main

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
)

func renewCommand() *cli.Command {
	return &cli.Command{
		Name:  "renew",
		Usage: "renew the evidence records (RFC 4998) whose proof of time lapses within the margin",
		Description: "Timestamp renewal (RFC 4998 §5.2): a new archive timestamp over the previous ones, for every package\n" +
			"whose newest archive timestamp's TSA certificate expires within [ers] renew_margin (default 2y), or all\n" +
			"with --force. --digest sha512 (or sha3-512) is hash-tree renewal (§5.3) of every package: every stored\n" +
			"object is hashed again. One TSA request per run; renewed records are new objects\n" +
			"(packages/<id>/ers/<name>.<n>.ers), nothing is rewritten; a killed run resumes on the next.\n" +
			"conserva run renews what is due. Exit status: 0 when done (or nothing due), 1 on failure, 2 on usage errors.",
		Flags: []cli.Flag{
			signerRootsFlag(), tsaRootsFlag(),
			&cli.BoolFlag{Name: "force", Usage: "renew every package's records now, due or not"},
			&cli.StringFlag{Name: "digest", Usage: "hash-tree renewal with this hash: sha512 or sha3-512"},
			&cli.StringFlag{Name: "tsa-url", Usage: "RFC 3161 TSA (default: [seal] tsa_url, else the development TSA)"},
			&cli.StringFlag{Name: "revocation", Usage: "a CRL or OCSP answer that cannot be fetched: require (refuse, default: [seal] revocation) or best-effort"},
			jsonFlag(),
		},
		Action: runRenew,
	}
}

func runRenew(ctx context.Context, cmd *cli.Command) (err error) {
	if cmd.Args().Len() > 0 {
		return usageErrorf("renew: unexpected argument %q", cmd.Args().First())
	}
	opts := archive.RenewOptions{Force: cmd.Bool("force"), TSAURL: cmd.String("tsa-url"), Roots: rootsOptions(cmd), Revocation: cmd.String("revocation")}
	if d := cmd.String("digest"); d != "" {
		h, err := archive.ParseDigest(d)
		if err != nil {
			return usageErrorf("renew: --digest: %v", err)
		}
		if h == crypto.SHA256 {
			return usageErrorf("renew: --digest sha256 is the records' own hash: hash-tree renewal needs a stronger one (sha512, sha3-512)")
		}
		opts.Digest = h
	}
	a, err := openArchive(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	run := startRun("renew")
	defer func() { recordRun(a, run, err) }()
	var finish func()
	opts.Progress, finish = progressFunc(cmd, -1, "renewing")
	sum, err := a.Renew(ctx, opts)
	finish()
	renewCounts(run, sum)
	out := cmd.Root().Writer
	if cmd.Bool("json") {
		if jerr := json.NewEncoder(out).Encode(sum); jerr != nil {
			return jerr
		}
	} else {
		fmt.Fprintln(out, renewalLine(sum))
		for _, s := range sum.Skipped {
			fmt.Fprintf(out, "NOT RENEWED %s (run conserva audit)\n", s)
		}
		if sum.Records > 0 {
			for _, w := range sum.Warnings {
				fmt.Fprintf(out, "WARNING: %s\n", w)
			}
		}
	}
	if err != nil {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	return nil
}

// renewalLine says what a renewal run did, in one line.
func renewalLine(s archive.RenewSummary) string {
	if s.Kind == "" {
		return "evidence records: nothing due for renewal"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "evidence records: %s", s.Kind)
	if s.Digest != "" {
		fmt.Fprintf(&b, " to %s", s.Digest)
	}
	fmt.Fprintf(&b, ", %s in %s", plural(s.Records, "record"), plural(len(s.Packages), "package"))
	if s.Resumed {
		b.WriteString(" (resumed)")
	}
	if !s.NextDue.IsZero() {
		fmt.Fprintf(&b, "; next due %s", s.NextDue.Format("2006-01-02"))
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(&b, "; %d not renewed (invalid)", len(s.Skipped))
	}
	if len(s.Later) > 0 {
		fmt.Fprintf(&b, "; %s left for the next run (another hash)", plural(len(s.Later), "package"))
	}
	return b.String()
}
