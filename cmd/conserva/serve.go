package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/conserva/conserva/archive"
	"github.com/conserva/conserva/web"
	"github.com/urfave/cli/v3"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the web interface (search, dossiers, evidence packs, legal hold, audit, access log)",
		Description: "Users are added with `conserva user add NAME --role ROLE`. The server holds no lock on the\n" +
			"archive between requests, so ingest, seal, audit, export and the nightly run work beside it.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "address to listen on"},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate (chain) for HTTPS"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM private key for HTTPS"},
			&cli.BoolFlag{Name: "insecure-http", Usage: "allow plain HTTP on a non-loopback address (behind a reverse proxy that terminates TLS)"},
			&cli.BoolFlag{Name: "behind-https", Usage: "a reverse proxy serves it over HTTPS: cookies are marked Secure"},
			signerRootsFlag(), tsaRootsFlag(),
			jsonFlag(),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cert, key := cmd.String("tls-cert"), cmd.String("tls-key")
			if (cert == "") != (key == "") {
				return usageErrorf("serve: give both --tls-cert and --tls-key")
			}
			tlsOn := cert != ""
			addr := cmd.String("addr")
			if !tlsOn && !cmd.Bool("insecure-http") && !loopback(addr) {
				return usageErrorf("serve: %s is not a loopback address: give --tls-cert/--tls-key, or --insecure-http behind a reverse proxy that terminates TLS", addr)
			}
			log := slog.New(slog.NewTextHandler(cmd.Root().ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: redactAttr}))
			shared, err := archive.OpenShared(archiveDir(cmd), log)
			if err != nil {
				return usageErrorf("%v", err)
			}
			shared.RootsOverride = rootsOptions(cmd)
			srv, err := web.New(web.Options{Archive: shared, Secure: tlsOn || cmd.Bool("behind-https"), Log: log})
			if err != nil {
				return usageErrorf("serve: %v", err)
			}
			var tlsCfg *tls.Config
			if tlsOn {
				pair, err := tls.LoadX509KeyPair(cert, key)
				if err != nil {
					return usageErrorf("serve: %v", err)
				}
				tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usageErrorf("serve: %v", err)
			}
			if tlsCfg != nil {
				ln = tls.NewListener(ln, tlsCfg)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
				IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
			scheme := "http"
			if tlsOn {
				scheme = "https"
			}
			url := fmt.Sprintf("%s://%s/", scheme, ln.Addr())
			if cmd.Bool("json") {
				json.NewEncoder(cmd.Root().Writer).Encode(map[string]any{"url": url, "addr": ln.Addr().String(), "tls": tlsOn})
			} else {
				fmt.Fprintf(cmd.Root().Writer, "serving %s on %s (Ctrl-C to stop)\n", shared.Dir, url)
			}
			if f, ok := cmd.Root().Writer.(*os.File); ok {
				f.Sync()
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			select {
			case err := <-done:
				return usageErrorf("serve: %v", err)
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return usageErrorf("serve: %v", err)
			}
			return nil
		},
	}
}

// loopback says whether addr listens only on this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
