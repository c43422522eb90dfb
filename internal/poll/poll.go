package poll

import "time"

// Until calls cond every interval until it holds or timeout passes, and
// reports whether it held (cond is asked once more at the deadline).
func Until(timeout, every time.Duration, cond func() bool) bool {
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return cond()
		}
	}
	return true
}
