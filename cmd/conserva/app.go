package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/conserva/conserva/internal/redact"
	"github.com/urfave/cli/v3"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitFindings = 1 // the run completed but found something wrong (a signature not valid, …)
	exitUsage    = 2 // bad usage or an I/O error before any result
)

// exitError carries an exit code with a message meant for a person.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// findings ends a command that completed and printed its results but has
// something to report through the exit status.
func findings() error { return &exitError{code: exitFindings} }

// run executes the CLI and returns the process exit code. Errors are printed
// as one line on stderr: never a stack trace (a panic is one line too, its
// stack goes to a file: see crashed).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			code = crashed(r, stderr)
		}
	}()
	tw := &termWriter{w: stdout}
	defer tw.Flush()
	app := newApp(tw, stderr)
	err := app.Run(ctx, args)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "conserva: %s\n", redact.Text(ee.msg))
		}
		return ee.code
	}
	// Anything urfave/cli reports (unknown flag, missing value) is usage.
	fmt.Fprintf(stderr, "conserva: %s\n", redact.Text(strings.TrimSpace(err.Error())))
	return exitUsage
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	app := &cli.Command{
		Name:      "conserva",
		Usage:     "keep PEC (Italian certified e-mail) as legal evidence",
		Version:   version(),
		Writer:    stdout,
		ErrWriter: stderr,
		// Exit codes are decided in run, not by the library.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Suggest:        true,
		Flags:          []cli.Flag{archiveFlag()},
		Commands: []*cli.Command{
			verifyCommand(),
			verifyERSCommand(),
			ingestCommand(),
			searchCommand(),
			showCommand(),
			sealCommand(),
			renewCommand(),
			tsaCommand(),
			catalogCommand(),
			holdCommand(),
			auditCommand(),
			reverifyCommand(),
			exportCommand(),
			runCommand(),
			storeCommand(),
			reportsCommand(),
			classifyCommand(),
			statsCommand(),
			scartoCommand(),
			userCommand(),
			serveCommand(),
			accesslogCommand(),
			runsCommand(),
			versionCommand(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usageErrorf("unknown command %q (see conserva --help)", cmd.Args().First())
			}
			return cli.ShowAppHelp(cmd)
		},
	}
	setUsageErrors(app)
	return app
}

// setUsageErrors makes every command report a usage error in one line and
// exit 2, instead of printing its whole help page, and marks the required
// flags in --help.
func setUsageErrors(cmd *cli.Command) {
	cmd.OnUsageError = func(ctx context.Context, c *cli.Command, err error, _ bool) error {
		// run prints "conserva: " before the message: the command's own
		// name follows it, not the root's again.
		name := strings.TrimPrefix(strings.TrimPrefix(c.FullName(), c.Root().Name), " ")
		if name == "" {
			return usageErrorf("%v (see %s --help)", err, c.FullName())
		}
		return usageErrorf("%s: %v (see %s --help)", name, err, c.FullName())
	}
	markRequired(cmd.Flags)
	for _, sub := range cmd.Commands {
		setUsageErrors(sub)
	}
}
