package security

import (
	"errors"
	"fmt"

	"github.com/goreload/reload/wire"
)

// Sentinel causes. Authentication failures come wrapped in a
// *wire.ProtocolError with code Error_Forbidden; test with errors.Is for
// the cause and errors.As for the code.
var (
	// ErrBadSignature: the signature value does not verify.
	ErrBadSignature = errors.New("security: bad signature")
	// ErrUnsupportedAlgorithm: the signature or hash algorithm is not
	// one this package implements, or does not fit the key.
	ErrUnsupportedAlgorithm = errors.New("security: unsupported algorithm")
	// ErrCertExpired: now is outside the validity period of a
	// certificate of the chain.
	ErrCertExpired = errors.New("security: certificate expired or not yet valid")
	// ErrUntrusted: the certificate does not chain to a root of the
	// overlay (or, for a self-signed certificate, self-signed
	// certificates are not permitted or its Node-IDs do not match its
	// key).
	ErrUntrusted = errors.New("security: certificate not trusted")
	// ErrWrongOverlay: the certificate's reload URIs name another
	// overlay.
	ErrWrongOverlay = errors.New("security: certificate from another overlay")
	// ErrNodeIDNotInCert: the Node-ID the signer claims or was expected
	// to have is not in its certificate.
	ErrNodeIDNotInCert = errors.New("security: node id not in certificate")
	// ErrUserMismatch: the certificate's user name is not the expected
	// one.
	ErrUserMismatch = errors.New("security: user name does not match certificate")
	// ErrBadNode: the certificate's Node-ID is listed as a bad-node in
	// the configuration (RFC 6940 §11.1, revocation).
	ErrBadNode = errors.New("security: node id revoked (bad-node)")
	// ErrBadIdentity: the SignerIdentity is of type none/invalid or is
	// malformed, or the certificate does not fit its type.
	ErrBadIdentity = errors.New("security: unusable signer identity")
	// ErrInvalidCert: the certificate is not a well-formed RELOAD node
	// certificate (RFC 6940 §11.3 subjectAltName rules).
	ErrInvalidCert = errors.New("security: invalid node certificate")
)

// forbidden wraps cause in the Error_Forbidden protocol error.
func forbidden(cause error) error {
	return &wire.ProtocolError{Code: wire.ErrCodeForbidden, Err: cause}
}

// forbiddenf wraps a formatted cause (which must wrap a sentinel with %w).
func forbiddenf(format string, args ...any) error {
	return forbidden(fmt.Errorf(format, args...))
}

// Kind-IDs of the certificate kinds of RFC 6940 §8, where a verifier
// finds certificates that were not sent with a signature.
const (
	KindCertificateByNode uint32 = 3
	KindCertificateByUser uint32 = 16
)

// CertificateNeededError reports that the certificate a signature names
// is neither in the SecurityBlock nor in the cache. Kind says where to
// look it up: KindCertificateByNode at NodeID, or KindCertificateByUser
// at User (Kind is 0 when the verifier was given neither). Once fetched,
// add the certificate with Verifier.AddCertificate and verify again.
type CertificateNeededError struct {
	Identity wire.SignerIdentity // a copy; does not alias the message
	Kind     uint32
	NodeID   wire.NodeID
	User     string
}

func (e *CertificateNeededError) Error() string {
	switch e.Kind {
	case KindCertificateByNode:
		return "security: certificate must be fetched: CERTIFICATE_BY_NODE " + e.NodeID.String()
	case KindCertificateByUser:
		return "security: certificate must be fetched: CERTIFICATE_BY_USER " + e.User
	}
	return "security: certificate must be fetched (signer unknown)"
}
