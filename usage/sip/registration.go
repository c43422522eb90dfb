package sip

import (
	"bytes"
	"fmt"

	"github.com/goreload/reload/wire"
)

// Application-IDs of AppAttach for this usage (RFC 7904 §5.1, RFC 6940
// §14.5).
const (
	AppSIP  uint16 = 5060
	AppSIPS uint16 = 5061
)

// Kind is the SIP-REGISTRATION Kind-ID (RFC 7904 §7, §9.1); its data model
// is the dictionary, keyed by the Node-ID of the storing peer.
const Kind = wire.KindSIPRegistration

// Registration is one decoded SIP-REGISTRATION dictionary entry. Unlike a
// wire.SipRegistration it owns its memory.
type Registration struct {
	// Key is the dictionary key, the Node-ID of the storing peer (RFC 7904
	// §3.2). It is zero when the key is not a valid Node-ID.
	Key wire.NodeID
	// Type is the form of the entry. For a type this package does not
	// know, Raw holds the data.
	Type wire.SipRegistrationType
	// URI is the target of a sip_registration_uri: an AOR, normalised
	// when it parses as one, or a GRUU or other string as stored.
	URI string
	// ContactPrefs and Destinations are the data of a
	// sip_registration_route.
	ContactPrefs string
	Destinations []wire.Destination
	Raw          []byte
}

// RouteRegistration is a sip_registration_route value (RFC 7904 §3.2): "to
// contact me, form a connection with this peer". prefs is the contact
// predicate of RFC 3840, e.g. "(sip.schemes=SIP)", or empty.
func RouteRegistration(prefs string, dests ...wire.Destination) wire.SipRegistration {
	return wire.SipRegistration{
		Type:         wire.SipRegistrationRoute,
		ContactPrefs: []byte(prefs),
		Destinations: dests,
	}
}

// URIRegistration is a sip_registration_uri value (RFC 7904 §3.2): "to
// contact me, dereference this AOR". The AOR is stored normalised, without
// scheme (§2).
func URIRegistration(aor string) (wire.SipRegistration, error) {
	n, err := NormalizeAOR(aor)
	if err != nil {
		return wire.SipRegistration{}, err
	}
	return wire.SipRegistration{Type: wire.SipRegistrationURI, URI: []byte(n)}, nil
}

// RegistrationValue encodes reg as the dictionary entry of the peer key,
// ready for Overlay.Store under Kind. A sip_registration_route needs a
// non-empty destination list (destination_list<3..2^16-1>).
func RegistrationValue(key wire.NodeID, reg *wire.SipRegistration) (wire.StoredDataValue, error) {
	if !key.Valid() {
		return wire.StoredDataValue{}, fmt.Errorf("%w: invalid dictionary key %v", ErrBadRegistration, key)
	}
	if reg.Type == wire.SipRegistrationRoute && len(reg.Destinations) == 0 {
		return wire.StoredDataValue{}, fmt.Errorf("%w: empty destination list", ErrBadRegistration)
	}
	b, err := reg.Append(make([]byte, 0, reg.Len()))
	if err != nil {
		return wire.StoredDataValue{}, fmt.Errorf("%w: %w", ErrBadRegistration, err)
	}
	return wire.DictionaryValue(wire.DictionaryKey(bytes.Clone(key.Bytes())), b), nil
}

// RemovalValue is the dictionary entry that deletes the registration of
// peer key: exists is false (RFC 6940 §7.2).
func RemovalValue(key wire.NodeID) wire.StoredDataValue {
	return wire.StoredDataValue{
		Model: wire.ModelDictionary,
		Key:   wire.DictionaryKey(bytes.Clone(key.Bytes())),
		Value: wire.DataValue{Exists: false},
	}
}

// DecodeRegistration decodes one fetched SIP-REGISTRATION entry. ok is
// false, with a nil error, for an entry that does not exist (a deletion
// marker). A value that does not decode is ErrBadRegistration.
func DecodeRegistration(v *wire.StoredDataValue) (r Registration, ok bool, err error) {
	if !v.Value.Exists {
		return Registration{}, false, nil
	}
	var s wire.SipRegistration
	if _, err := s.Decode(v.Value.Value); err != nil {
		return Registration{}, false, fmt.Errorf("%w: %w", ErrBadRegistration, err)
	}
	if id, err := wire.NodeIDFromBytes(v.Key); err == nil {
		r.Key = id
	}
	r.Type = s.Type
	switch s.Type {
	case wire.SipRegistrationURI:
		r.URI = string(s.URI)
		if _, isGRUU, _ := ParseGRUU(r.URI); !isGRUU {
			if n, err := NormalizeAOR(r.URI); err == nil {
				r.URI = n
			}
		}
	case wire.SipRegistrationRoute:
		r.ContactPrefs = string(s.ContactPrefs)
		c := s.Clone()
		r.Destinations = c.Destinations
	default:
		r.Raw = bytes.Clone(s.Raw)
	}
	return r, true, nil
}

// TerminalNode is the Node-ID at the end of a destination list, the peer a
// connection is formed with (RFC 7904 §5.1).
func TerminalNode(dests []wire.Destination) (wire.NodeID, bool) {
	if len(dests) == 0 {
		return wire.NodeID{}, false
	}
	return dests[len(dests)-1].NodeID()
}
