package chord

// Stats counts the ring maintenance work of a Chord since it was made
// (RFC 6940 §10.7): for metrics and status reports. Like the Chord, it is
// read by the goroutine that drives the Chord.
type Stats struct {
	// Stabilizations counts the periodic neighbour exchanges
	// (§10.7.4.1, chord-update-interval).
	Stabilizations uint64
	// UpdatesSent and UpdatesReceived count Update requests (§10.7.3).
	UpdatesSent     uint64
	UpdatesReceived uint64
	// PeerFailures counts the peers declared failed (§10.7.2): link
	// failures and unanswered Updates.
	PeerFailures uint64
	// Rejoins counts the Joins sent again as a peer to a successor that
	// did not know this peer (§10.5).
	Rejoins uint64
	// Founded counts the times this potential first node founded the
	// ring after a round of failed Joins (SetFirstNode).
	Founded uint64
	// PartitionChecks counts the Pings to our own Node-ID through a
	// bootstrap peer (§10.7.4.4); PartitionsFound those answered by a
	// peer we did not know.
	PartitionChecks, PartitionsFound uint64
}

// Stats returns the Chord's counters.
func (c *Chord) Stats() Stats { return c.stats }
