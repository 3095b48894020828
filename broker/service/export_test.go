package service

import (
	"context"
	"time"
)

// Crash stops the service the way a power cut would from the pipeline's point
// of view: the NATS server goes away first, with messages in flight whose
// outcomes may be in the audit log but not yet published or acknowledged.
func (s *Service) Crash() {
	if s.nats != nil {
		s.nats.Shutdown()
		s.nats = nil
	}
	s.nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = s.stop(ctx)
}
