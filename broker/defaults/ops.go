package defaults

import "time"

// The operators' dashboard on the broker's HTTP listener.
const (
	// OpsRefresh is how often an open dashboard asks for fresh numbers, and
	// how long the audit checkpoints it read from JetStream are reused
	// before they are read again (a scrape of /metrics reuses them too).
	OpsRefresh = 2 * time.Second
	// OpsWindow is the span of the dashboard's rate chart and of its
	// latency percentiles.
	OpsWindow = 5 * time.Minute
	// OpsSession is how long the cookie a browser gets for the operators'
	// token lets it in before the token must be given again.
	OpsSession = 12 * time.Hour
)
