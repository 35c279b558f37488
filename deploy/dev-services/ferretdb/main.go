// Command ferretdb runs FerretDB 1.x, a MongoDB-wire-protocol server, over its SQLite handler
// for eventflow's dev services (scripts/dev-services.sh).
//
// It embeds FerretDB's own package instead of building FerretDB's command: that command
// panics at start when built outside FerretDB's repository (FerretDB#2982, build/version).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "", "existing directory holding one SQLite file per database (required)")
	debug := flag.Bool("debug", false, "log every request")
	flag.Parse()
	if err := run(*listen, *dir, *debug); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
}

func run(listen, dir string, debug bool) error {
	if dir == "" {
		return fmt.Errorf("--sqlite-dir is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if debug {
		level = slog.LevelDebug
	}
	server, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("listening", "address", listen, "data", abs)
	return server.Run(ctx)
}
