// Copyright: edgeai.jetson_cluster contributors
// Apache License 2.0 (see galaxy.yml)

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/k3s-io/kine/pkg/endpoint"
	"github.com/spf13/cobra"

	// kine's SQLite driver (cgo, mattn/go-sqlite3), the datastore k3s uses by default.
	_ "github.com/k3s-io/kine/pkg/drivers/sqlite"
)

// newKineCommand serves kine's etcd v3 API on --listen-address (unix:// or tcp host:port) over
// the SQLite database --endpoint names, like k3s's embedded kine, until SIGINT/SIGTERM.
func newKineCommand() *cobra.Command {
	var cfg endpoint.Config
	cmd := &cobra.Command{
		Use:          "kine",
		Short:        "etcd API over SQLite (github.com/k3s-io/kine)",
		SilenceUsage: true,
		Args:         cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			etcd, err := endpoint.Listen(ctx, cfg)
			if err != nil {
				return fmt.Errorf("kine: %w", err)
			}
			fmt.Fprintf(os.Stderr, "kine: serving etcd API at %v\n", etcd.Endpoints)
			<-ctx.Done()
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&cfg.Listener, "listen-address", "unix://kine.sock", "where to serve the etcd API: unix://PATH or HOST:PORT")
	// kine's own default (and k3s's): the watch progress-notify interval must not be zero.
	flags.DurationVar(&cfg.NotifyInterval, "watch-progress-notify-interval", 5*time.Second, "interval between etcd watch progress notifications")
	flags.StringVar(&cfg.Endpoint, "endpoint", "sqlite://./db/state.db?_journal=WAL&cache=shared&_busy_timeout=30000", "datastore, e.g. sqlite://PATH")
	return cmd
}
