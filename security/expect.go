package security

// Check tells whether s, a signer this Verifier returned for a check made
// with no expectation (Expect{}), meets want: the checks VerifyMessage
// makes after the signature itself, with the same errors. It lets a
// caller verify a signature before it knows whom to expect (on the
// goroutine that read the message, say) and match the signer later.
// A Node-ID revoked in between is refused (RFC 6940 §11.1).
func (v *Verifier) Check(s Signer, want Expect) error {
	if v.trust.IsBadNode(s.NodeID) {
		return forbiddenf("%w: %v", ErrBadNode, s.NodeID)
	}
	if !want.NodeID.IsZero() && want.NodeID != s.NodeID {
		return forbiddenf("%w: signed as %v, expected %v", ErrNodeIDNotInCert, s.NodeID, want.NodeID)
	}
	if want.User != "" && (s.Cert == nil || want.User != s.Cert.User) {
		user := ""
		if s.Cert != nil {
			user = s.Cert.User
		}
		return forbiddenf("%w: certificate is %q, expected %q", ErrUserMismatch, user, want.User)
	}
	return nil
}
