// Command gateway runs an agency's gateway to the sekretessbroker: an HTTP
// JSON API (clients/gateway/openapi.yaml) through which the agency's
// case-management systems send and receive messages. It runs at the agency,
// with the agency's own keys, never at the broker.
//
//	gateway --data DIR --as AGENCY --listen HOST:PORT --nats-url URL [--tls-ca FILE]
//	gateway hash-password < password   (an argon2id hash for a web desk user)
//
// DIR is the data folder "brokerctl demo" or "make run" creates (./data);
// the agency's home is found in DIR/agencies/AGENCY or, as "brokerctl demo"
// makes it, in agencies/AGENCY beside DIR (or give it with --keys). On its
// first start the gateway writes the token of the calling systems'
// "default" system to gateway.token in the agency's home (mode 0600).
//
// SIGINT or SIGTERM stop it, letting requests in flight finish.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run starts the gateway the command line describes and serves until ctx
// is done. It prints the address it listens on, once it does, to out.
func run(ctx context.Context, args []string, out, logOut io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(os.Stdin, out)
	}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(logOut)
	data := fs.String("data", defaults.DataDir, "the data folder brokerctl demo or make run created: where the agency's home and the directory are found")
	as := fs.String("as", "", "the agency's id in the directory (required)")
	listen := fs.String("listen", "", "HTTP address (default: listen: in the configuration file, else "+defaults.GatewayListen+", loopback)")
	natsURL := fs.String("nats-url", defaults.NATSURL, "the broker's NATS URL")
	tlsCA := fs.String("tls-ca", "", "CA file of the broker's TLS certificate, when it requires TLS; the agency's client certificate is found in its home")
	tlsCert := fs.String("tls-cert", "", "the agency's TLS client certificate for the broker (default: tls.crt in its home, with --tls-ca)")
	tlsKey := fs.String("tls-key", "", "key of --tls-cert")
	home := fs.String("keys", "", "the agency's home: its keys, pseudonym key, inbox and the gateway's records (default: found from --data)")
	dirFile := fs.String("directory", "", "the agency directory (default <data>/directory.yaml)")
	config := fs.String("config", "", "the gateway's configuration file, YAML or JSON: calling systems, HTTPS, webhook (default: "+gateway.ConfigFile+" in the agency's home, if present)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *as == "" {
		fs.Usage()
		return errors.New("--as AGENCY is required")
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	h, d, err := gateway.FindHome(*data, *as, *home, *dirFile)
	if err != nil {
		return err
	}
	var fc gateway.FileConfig
	cfgPath := *config
	if cfgPath == "" {
		if p := layout.HomeGatewayConfig(h); fileExists(p) {
			cfgPath = p
		}
	}
	if cfgPath != "" {
		if fc, err = gateway.LoadFileConfig(cfgPath); err != nil {
			return err
		}
	}
	_, created, err := gateway.EnsureToken(h)
	if err != nil {
		return err
	}
	tokenFile := layout.HomeGatewayToken(h)
	if created {
		log.Info("wrote the default calling system's token (mode 0600)", "file", tokenFile)
	}
	addr := *listen
	if addr == "" {
		addr = fc.Listen
	}
	if addr == "" {
		addr = defaults.GatewayListen
	}
	// Listen before connecting, so that a port in use is told at once.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv, err := gateway.New(ctx, gateway.Config{
		Agency: *as, Home: h, DirectoryFile: d, NATSURL: *natsURL,
		TLSCA: *tlsCA, TLSCert: *tlsCert, TLSKey: *tlsKey, File: fc, Logger: log,
		NewDesk: newDesk(log),
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	scheme := "http"
	if fc.HTTPS != nil {
		scheme = "https"
	} else if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		log.Warn("listening beyond this machine without HTTPS: the calling systems' tokens and the messages cross the network in clear; set https: in the configuration file", "addr", ln.Addr().String())
	}
	fmt.Fprintf(out, "gateway of %s: %s://%s (token: %s)\n", *as, scheme, ln.Addr(), tokenFile)
	return srv.Serve(ctx, ln)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
