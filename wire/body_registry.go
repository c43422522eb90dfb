package wire

// newBody maps a message code to its body type (RFC 6940 §6.4, §6.5, §7,
// §10; RFC 7851 §4.3). Update, RouteQuery and Leave bodies are the
// CHORD-RELOAD ones (§10.7–10.9), the only topology plugin RFC 6940
// defines.
func newBody(c MessageCode, idLen int) (Body, bool) {
	switch c {
	case CodeProbeReq:
		return &ProbeReq{}, true
	case CodeProbeAns:
		return &ProbeAns{}, true
	case CodeAttachReq, CodeAttachAns:
		return &AttachReqAns{}, true
	case CodeAppAttachReq:
		return &AppAttachReq{}, true
	case CodeAppAttachAns:
		return &AppAttachAns{}, true
	case CodePingReq:
		return &PingReq{}, true
	case CodePingAns:
		return &PingAns{}, true
	case CodeConfigUpdateReq:
		return &ConfigUpdateReq{}, true
	case CodeConfigUpdateAns:
		return &ConfigUpdateAns{}, true
	case CodeJoinReq:
		return &JoinReq{IDLen: idLen}, true
	case CodeJoinAns:
		return &JoinAns{}, true
	case CodeLeaveReq:
		return &LeaveReq{IDLen: idLen}, true
	case CodeLeaveAns:
		return &LeaveAns{}, true
	case CodeUpdateReq:
		return &ChordUpdate{IDLen: idLen}, true
	case CodeUpdateAns:
		return &UpdateAns{}, true
	case CodeRouteQueryReq:
		return &RouteQueryReq{}, true
	case CodeRouteQueryAns:
		return &ChordRouteQueryAns{IDLen: idLen}, true
	case CodePathTrackReq:
		return &PathTrackReq{}, true
	case CodePathTrackAns:
		return &PathTrackAns{}, true
	}
	return newStoreBody(c, idLen)
}

// NewExtension returns a new value for the contents of a message extension
// of type t inside a message with code c, or false when t is unknown here.
// Diagnostic_Ping carries a DiagnosticsRequest in a request and a
// DiagnosticsResponse in an answer (RFC 7851 §4.2).
func NewExtension(t MessageExtensionType, c MessageCode) (Body, bool) {
	switch t {
	case ExtDiagnosticPing:
		if c.IsAnswer() {
			return &DiagnosticsResponse{}, true
		}
		return &DiagnosticsRequest{}, true
	case ExtSelfTuningData:
		return &SelfTuningData{}, true
	}
	return nil, false
}
