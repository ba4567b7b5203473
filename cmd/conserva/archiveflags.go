package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/internal/redact"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

func archiveFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "archive",
		Usage:   "archive home directory (default $XDG_DATA_HOME/conserva or ~/.local/share/conserva)",
		Sources: cli.EnvVars("CONSERVA_ARCHIVE"),
	}
}

func archiveDir(cmd *cli.Command) string {
	if d := cmd.String("archive"); d != "" {
		return d
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "conserva")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "conserva")
	}
	return ""
}

func openArchive(cmd *cli.Command) (*archive.Archive, error) {
	log := slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: redactAttr}))
	a, err := archive.Open(archiveDir(cmd), log)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	a.RootsOverride = rootsOptions(cmd)
	return a, nil
}

// progress returns a bar on stderr when stdout is a terminal and output is
// for people; nil otherwise.
func progress(cmd *cli.Command, max int, what string) *progressbar.ProgressBar {
	if cmd.Bool("json") {
		return nil
	}
	f, ok := cmd.Root().Writer.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(max, progressbar.OptionSetDescription(what), progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
}

// signerRootsFlag and tsaRootsFlag are the pinned roots of the archive's
// own seals, for every command that signs or checks packages.
func signerRootsFlag() cli.Flag {
	return &cli.StringFlag{Name: "signer-roots", Usage: "PEM file of the CA(s) that may sign packages (default: [seal] signer_roots, CONSERVA_SIGNER_ROOTS, else the development CA)"}
}

func tsaRootsFlag() cli.Flag {
	return &cli.StringFlag{Name: "tsa-roots", Usage: "PEM file of the CA(s) that may timestamp packages (default: [seal] tsa_roots, CONSERVA_TSA_ROOTS, else the development CA)"}
}

func rootsOptions(cmd *cli.Command) archive.RootsOptions {
	return archive.RootsOptions{Signer: cmd.String("signer-roots"), TSA: cmd.String("tsa-roots")}
}

// redactAttr keeps passwords written inside URLs out of the log.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(redact.Text(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(redact.Text(err.Error()))
		}
	}
	return a
}

// markRequired says "(required)" in the help of every required flag:
// urfave/cli checks them but its help does not tell.
func markRequired(flags []cli.Flag) {
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			if f.Required {
				f.Usage += " (required)"
			}
		case *cli.BoolFlag:
			if f.Required {
				f.Usage += " (required)"
			}
		case *cli.IntFlag:
			if f.Required {
				f.Usage += " (required)"
			}
		case *cli.StringSliceFlag:
			if f.Required {
				f.Usage += " (required)"
			}
		}
	}
}

// progressFunc is progress as a callback (nil when there is no bar) and
// the function that clears the bar before the summary is printed.
func progressFunc(cmd *cli.Command, max int, what string) (func(int), func()) {
	bar := progress(cmd, max, what)
	if bar == nil {
		return nil, func() {}
	}
	return func(done int) { _ = bar.Set(done) }, func() { _ = bar.Finish() }
}
