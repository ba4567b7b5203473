package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/conserva/conserva/archive"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

// userCommand manages the web interface's users (conserva serve).
func userCommand() *cli.Command {
	return &cli.Command{
		Name:  "user",
		Usage: "manage the users of the web interface (conserva serve)",
		Commands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add a user, or set a user's password and role again (password prompted, or one line on stdin)",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "role", Required: true, Usage: "legal, auditor, records or admin"},
					jsonFlag(),
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 1 {
						return usageErrorf("user add: give one NAME")
					}
					if !archive.ValidRole(cmd.String("role")) {
						return usageErrorf("user add: --role %q: one of %s", cmd.String("role"), strings.Join(archive.Roles, ", "))
					}
					pw, err := readPassword(cmd.Root().ErrWriter)
					if err != nil {
						return usageErrorf("user add: %v", err)
					}
					u, err := archive.NewUser(cmd.Args().First(), cmd.String("role"), pw)
					if err != nil {
						return usageErrorf("user add: %v", err)
					}
					a, err := openArchive(cmd)
					if err != nil {
						return err
					}
					defer a.Close()
					if err := a.Catalog.PutUser(u); err != nil {
						return usageErrorf("user add: %v", err)
					}
					return printUser(cmd, u, "added")
				},
			},
			{
				Name:  "list",
				Usage: "list the users",
				Flags: []cli.Flag{jsonFlag()},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					a, err := openArchive(cmd)
					if err != nil {
						return err
					}
					defer a.Close()
					users, err := a.Catalog.Users()
					if err != nil {
						return usageErrorf("user list: %v", err)
					}
					for _, u := range users {
						if err := printUser(cmd, u, ""); err != nil {
							return err
						}
					}
					if !cmd.Bool("json") && len(users) == 0 {
						fmt.Fprintln(cmd.Root().Writer, "no users: add the first with conserva user add NAME --role admin")
					}
					return nil
				},
			},
			userSwitch("disable", "disable a user (their sessions end within a minute)", true),
			userSwitch("enable", "enable a disabled user again", false),
		},
	}
}

func userSwitch(name, usage string, disabled bool) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usageErrorf("user %s: give one NAME", name)
			}
			a, err := openArchive(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Catalog.SetUserDisabled(cmd.Args().First(), disabled); err != nil {
				return usageErrorf("user %s: %v", name, err)
			}
			u, err := a.Catalog.User(cmd.Args().First())
			if err != nil {
				return usageErrorf("user %s: %v", name, err)
			}
			return printUser(cmd, u, name+"d")
		},
	}
}

// printUser never prints the hash.
func printUser(cmd *cli.Command, u *archive.User, what string) error {
	state := "enabled"
	if u.Disabled {
		state = "disabled"
	}
	if cmd.Bool("json") {
		return json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"name": u.Name, "role": u.Role, "disabled": u.Disabled, "created": u.Created})
	}
	if what != "" {
		what += ": "
	}
	fmt.Fprintf(cmd.Root().Writer, "%s%s (%s, %s, since %s)\n", what, u.Name, u.Role, state, u.Created.Format("2006-01-02"))
	return nil
}

// readPassword prompts twice on a terminal, else reads one line of stdin.
func readPassword(prompt io.Writer) (string, error) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(prompt, "password: ")
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "again: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReaderSize(os.Stdin, 2048).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}
