package topology

import "github.com/goreload/reload/wire"

// ProbeAnswer builds the answer to a Probe (RFC 6940 §6.4.2.5.2): the
// requested information a plugin recognises, in the requested order, and
// nothing for the types it does not. rng is the node's responsible
// range (ok false: none yet), numResources the number of resources it
// stores (nil: unknown, reported as 0), uptime its uptime in seconds.
func ProbeAnswer(req *wire.ProbeReq, rng Range, ok bool, numResources func() uint32, uptime uint32) wire.ProbeAns {
	var a wire.ProbeAns
	for _, t := range req.RequestedInfo {
		var v uint32
		switch t {
		case wire.ProbeResponsibleSet:
			if ok {
				v = rng.PPB()
			}
		case wire.ProbeNumResources:
			if numResources != nil {
				v = numResources()
			}
		case wire.ProbeUptime:
			v = uptime
		default:
			continue
		}
		a.ProbeInfo = append(a.ProbeInfo, wire.ProbeInformation{Type: t, Value: v})
	}
	return a
}
