package storage

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/goreload/reload/security"
	"github.com/goreload/reload/wire"
)

// ErrBadCoAPURI is returned for a string that is not an absolute coap: or
// coaps: URI (RFC 7252 §6).
var ErrBadCoAPURI = errors.New("storage: not a coap or coaps URI")

// CoAPResourceName is the resource name of a CoAP URI for the Kinds of
// the CoAP usage (RFC 7650 §8): the URI normalised as RFC 7252 §6.3 and
// RFC 3986 §6 say (scheme and host in lower case, the default port
// dropped, percent-encoding normalised, dot segments removed, an empty
// path made "/") with its "coap:" prefix removed. URI-MATCH compares the
// hash of this name with the Resource-ID (§9), so the Resource-ID of a
// CoAP-REGISTRATION or CoAP-CACHING value must be its hash for any Store
// to be allowed. A coaps: URI keeps its scheme: only "coap:" is removed.
func CoAPResourceName(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadCoAPURI, err)
	}
	scheme := strings.ToLower(u.Scheme)
	defPort := ""
	switch scheme {
	case "coap":
		defPort = "5683"
	case "coaps":
		defPort = "5684"
	default:
		return "", fmt.Errorf("%w: scheme %q", ErrBadCoAPURI, u.Scheme)
	}
	// RFC 7252 §6.1: no user information and no fragment.
	if u.Opaque != "" || u.User != nil || u.Fragment != "" || u.Host == "" {
		return "", fmt.Errorf("%w: %q", ErrBadCoAPURI, uri)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("%w: empty host", ErrBadCoAPURI)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && p != defPort {
		host += ":" + p
	}
	p := u.Path
	if p == "" {
		p = "/"
	} else {
		trailing := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
		p = path.Clean(p)
		if trailing && p != "/" {
			p += "/"
		}
	}
	// Re-escaping the decoded path normalises percent-encoding (RFC 3986
	// §6.2.2.1, §6.2.2.2).
	name := "//" + host + (&url.URL{Path: p}).EscapedPath()
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	if scheme == "coaps" {
		name = "coaps:" + name
	}
	return name, nil
}

// CoAPResourceID is h(CoAPResourceName(uri)), where CoAP-REGISTRATION and
// CoAP-CACHING values for uri are stored (RFC 7650 §4, §8, §9).
func CoAPResourceID(h HashFunc, uri string) (wire.ResourceID, error) {
	name, err := CoAPResourceName(uri)
	if err != nil {
		return nil, err
	}
	return h([]byte(name)), nil
}

// permitURIMatch decides URI-MATCH and URI-NODE-MATCH (RFC 7650 §9).
//
// URI-MATCH: the signer's certificate holds a coap: or coaps:
// subjectAltName URI whose canonical form, "coap:" removed, hashes to the
// Resource-ID. URI-NODE-MATCH adds that the value is a dictionary entry
// whose key is the Node-ID the signature was made with (the one its
// SignerIdentity names), and that this Node-ID is in the certificate.
func permitURIMatch(h HashFunc, k *Kind, res wire.ResourceID, v *wire.StoredDataValue, signer security.Signer) bool {
	if !signer.Cert.HasNodeID(signer.NodeID) {
		return false
	}
	if k.Policy == PolicyURINodeMatch && (v.Model != wire.ModelDictionary || !bytes.Equal(v.Key, signer.NodeID.Bytes())) {
		return false
	}
	for _, u := range signer.Cert.CoAPURIs {
		if id, err := CoAPResourceID(h, u); err == nil && bytes.Equal(id, res) {
			return true
		}
	}
	return false
}
