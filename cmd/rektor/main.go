// Command rektor is the school rector's client of the sekretessbroker; run
// "rektor help" for what it does, in plain language.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/sekretessbroker/sekretessbroker/clients/desk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := desk.Rector(ctx, os.Args[1:], os.Stdout)
	switch {
	case err == nil:
	case errors.Is(err, desk.ErrRejected):
		// The reasons are printed; the status tells scripts.
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "rektor:", err)
		os.Exit(1)
	}
}
