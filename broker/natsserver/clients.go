package natsserver

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Client is one client connection of the embedded server, open or recently
// closed (the server keeps the last closed ones). It holds the public nkey
// the client logged in with and times, nothing it sent.
type Client struct {
	// NKey is the public nkey the client logged in with.
	NKey string
	// Open is false for a connection that has closed.
	Open bool
	// LastActivity is when the client last sent or received a message.
	LastActivity time.Time
}

// clientsPage is how many connections one Connz call returns.
const clientsPage = 1024

// Clients returns the server's client connections, open and closed, from
// its own monitoring data (what /connz would show), without opening a
// monitoring port.
func (s *Server) Clients() ([]Client, error) {
	var out []Client
	for offset := 0; ; offset += clientsPage {
		cz, err := s.ns.Connz(&server.ConnzOptions{State: server.ConnAll, Username: true, Offset: offset, Limit: clientsPage})
		if err != nil {
			return nil, fmt.Errorf("natsserver: connections: %w", err)
		}
		for _, c := range cz.Conns {
			out = append(out, Client{NKey: c.AuthorizedUser, Open: c.Stop == nil, LastActivity: c.LastActivity})
		}
		if len(cz.Conns) < clientsPage {
			return out, nil
		}
	}
}
