package desk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
)

// Main runs the client called program (polis, rektor or socialtjanst) with
// the process's arguments until it is done or interrupted, and returns the
// exit status: 0 when the command succeeded, 2 when the broker rejected the
// message (the reasons are printed, the status tells scripts), 1 on any
// other error, which goes to standard error.
func Main(program string) int {
	var c *client
	for _, k := range []*client{police, rector, social} {
		if k.prog == program {
			c = k
		}
	}
	if c == nil {
		panic("desk: no client called " + program)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := c.main(ctx, os.Args[1:], os.Stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrRejected):
		return 2
	default:
		fmt.Fprintln(os.Stderr, program+":", err)
		return 1
	}
}
