package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/runs"
	"github.com/conserva/conserva/scarto"
	"github.com/urfave/cli/v3"
)

func scartoCommand() *cli.Command {
	withArchive := func(fn func(ctx context.Context, cmd *cli.Command, a *archive.Archive) error) cli.ActionFunc {
		return func(ctx context.Context, cmd *cli.Command) error {
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			return fn(ctx, cmd, a)
		}
	}
	// logged keeps the step in the run history: who proposed, approved
	// and executed a disposal, and when, is the first thing asked of it.
	logged := func(name string, fn func(ctx context.Context, cmd *cli.Command, a *archive.Archive, run *runs.Run) error) cli.ActionFunc {
		return withArchive(func(ctx context.Context, cmd *cli.Command, a *archive.Archive) (err error) {
			run := startRun(name)
			defer func() { recordRun(a, run, err) }()
			return fn(ctx, cmd, a, run)
		})
	}
	oneArg := func(cmd *cli.Command, what string) (string, error) {
		if cmd.Args().Len() != 1 {
			return "", usageErrorf("scarto %s: give one proposal id", what)
		}
		return cmd.Args().First(), nil
	}
	return &cli.Command{
		Name:  "scarto",
		Usage: "disposal at the end of retention: propose, approve, execute (nothing is deleted without an approved proposal)",
		Commands: []*cli.Command{
			{
				Name:  "propose",
				Usage: "propose the dossiers whose retention has ended (none under legal hold), as a signed proposal",
				Flags: []cli.Flag{&cli.StringFlag{Name: "before", Usage: "retention ended by this date (YYYY-MM-DD or RFC 3339; default now)"}, jsonFlag()},
				Action: logged("scarto propose", func(ctx context.Context, cmd *cli.Command, a *archive.Archive, run *runs.Run) error {
					before := time.Now()
					if v := cmd.String("before"); v != "" {
						t, err := parseDate(v)
						if err != nil {
							return usageErrorf("scarto propose: --before %q is not a date", v)
						}
						before = t
					}
					p, err := a.ProposeScarto(ctx, before)
					if err != nil {
						return err
					}
					if p != nil {
						run.Count("dossiers proposed", int64(len(p.Dossiers)))
					}
					out := cmd.Root().Writer
					if cmd.Bool("json") {
						res := map[string]any{"proposal": "", "dossiers": []scarto.Dossier{}}
						if p != nil {
							res["proposal"], res["dossiers"] = p.ID, p.Dossiers
						}
						return json.NewEncoder(out).Encode(res)
					}
					if p == nil {
						fmt.Fprintf(out, "no dossier's retention has ended by %s (or each is under legal hold): nothing proposed\n", before.Format("2006-01-02"))
						return nil
					}
					fmt.Fprintf(out, "proposal %s: %s\n", p.ID, plural(len(p.Dossiers), "dossier"))
					for _, d := range p.Dossiers {
						fmt.Fprintf(out, "  <%s>: %s, retention ended %s\n", d.ID, plural(len(d.Messages), "message"), d.RetentionEnd.Format("2006-01-02"))
					}
					fmt.Fprintf(out, "approve it with: conserva scarto approve %s --by NAME [--authorization REF]\n", p.ID)
					return nil
				}),
			},
			{
				Name:      "approve",
				Usage:     "record the approval of a proposal (signed, timestamped)",
				ArgsUsage: "PROPOSAL",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "by", Usage: "who approves", Required: true},
					&cli.StringFlag{Name: "authorization", Usage: "reference of the authorisation (PA: the Soprintendenza's)"},
					jsonFlag(),
				},
				Action: logged("scarto approve", func(ctx context.Context, cmd *cli.Command, a *archive.Archive, run *runs.Run) error {
					id, err := oneArg(cmd, "approve")
					if err != nil {
						return err
					}
					p, err := a.ApproveScarto(ctx, id, cmd.String("by"), cmd.String("authorization"))
					if err != nil {
						return scartoError(err)
					}
					if cmd.Bool("json") {
						return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"proposal": p.ID, "approval": p.Approval})
					}
					fmt.Fprintf(cmd.Root().Writer, "proposal %s approved by %s\n", p.ID, p.Approval.By)
					return nil
				}),
			},
			{
				Name:      "execute",
				Usage:     "delete what an approved proposal lists and the store allows; write the signed verbale di scarto",
				ArgsUsage: "PROPOSAL",
				Flags:     []cli.Flag{jsonFlag()},
				Action: logged("scarto execute", func(ctx context.Context, cmd *cli.Command, a *archive.Archive, run *runs.Run) error {
					id, err := oneArg(cmd, "execute")
					if err != nil {
						return err
					}
					p, err := a.ExecuteScarto(ctx, id)
					if err != nil {
						return scartoError(err)
					}
					d := p.Disposal
					run.Count("deleted", int64(len(d.Deleted)))
					run.Count("refused", int64(len(d.Refused)))
					for _, o := range d.Refused {
						run.Error("not deleted " + archive.ShortID(o.ID) + ": " + o.Reason)
					}
					if cmd.Bool("json") {
						if err := json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"proposal": p.ID, "deleted": d.Deleted, "refused": d.Refused, "verbale": d.Signed}); err != nil {
							return err
						}
					} else {
						out := cmd.Root().Writer
						fmt.Fprintf(out, "proposal %s: %d deleted, %d refused\n", p.ID, len(d.Deleted), len(d.Refused))
						for _, o := range d.Refused {
							fmt.Fprintf(out, "  not deleted %s: %s\n", archive.ShortID(o.ID), o.Reason)
						}
						fmt.Fprintf(out, "verbale di scarto: %s\n", d.Signed.Key)
					}
					if len(d.Refused) > 0 {
						return findings()
					}
					return nil
				}),
			},
			{
				Name:  "list",
				Usage: "list the proposals and what became of them",
				Flags: []cli.Flag{jsonFlag()},
				Action: withArchive(func(ctx context.Context, cmd *cli.Command, a *archive.Archive) error {
					ps, err := a.Proposals(ctx)
					if err != nil {
						return err
					}
					if cmd.Bool("json") {
						if ps == nil {
							ps = []archive.Proposal{}
						}
						return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"proposals": ps})
					}
					return printProposals(cmd.Root().Writer, ps)
				}),
			},
			{
				Name:      "export",
				Usage:     "write the proposal, approval and verbale with their signatures, timestamps, roots and VERIFY.txt",
				ArgsUsage: "PROPOSAL",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "out", Usage: "directory to write (new or empty)", Required: true}, jsonFlag()},
				Action: withArchive(func(ctx context.Context, cmd *cli.Command, a *archive.Archive) error {
					id, err := oneArg(cmd, "export")
					if err != nil {
						return err
					}
					names, err := a.ExportScarto(ctx, id, cmd.String("out"))
					if err != nil {
						return scartoError(err)
					}
					if cmd.Bool("json") {
						return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"proposal": id, "documents": names})
					}
					fmt.Fprintf(cmd.Root().Writer, "%v written to %s (see VERIFY.txt in each); their roots, to publish for the auditor:\n", names, cmd.String("out"))
					for _, n := range names {
						if err := printRoots(cmd.Root().Writer, filepath.Join(cmd.String("out"), n)); err != nil {
							return err
						}
					}
					return nil
				}),
			},
		},
	}
}

func printProposals(w io.Writer, ps []archive.Proposal) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROPOSAL\tDOSSIERS\tAPPROVED BY\tEXECUTED")
	for _, p := range ps {
		by, ex := "-", "-"
		if p.Approval != nil {
			by = p.Approval.By
		}
		if p.Disposal != nil {
			ex = fmt.Sprintf("%s: %d deleted, %d refused", p.Disposal.At.Format("2006-01-02"), len(p.Disposal.Deleted), len(p.Disposal.Refused))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", p.ID, len(p.Dossiers), by, ex)
	}
	return tw.Flush()
}

func scartoError(err error) error {
	if errors.Is(err, archive.ErrNoProposal) {
		return &exitError{code: exitFindings, msg: err.Error()}
	}
	return &exitError{code: exitFindings, msg: err.Error()}
}
