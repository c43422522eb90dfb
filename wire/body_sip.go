package wire

import "strconv"

// SipRegistrationType selects the form of a SipRegistration (RFC 7904
// §3.2):
//
//	enum {
//	    sip_registration_uri(1),
//	    sip_registration_route(2),
//	    (255)
//	} SipRegistrationType;
type SipRegistrationType uint8

// SIP registration types.
const (
	SipRegistrationURI   SipRegistrationType = 1
	SipRegistrationRoute SipRegistrationType = 2
)

func (t SipRegistrationType) String() string {
	switch t {
	case SipRegistrationURI:
		return "sip_registration_uri"
	case SipRegistrationRoute:
		return "sip_registration_route"
	}
	return "SipRegistrationType(" + strconv.Itoa(int(t)) + ")"
}

// sipMinDestListLen is the lower bound of destination_list<3..2^16-1>.
const sipMinDestListLen = 3

// SipRegistration is the value stored under the SIP-REGISTRATION Kind
// (RFC 7904 §3.2):
//
//	select (SipRegistration.type) {
//	  case sip_registration_uri:
//	    opaque               uri<0..2^16-1>;
//
//	  case sip_registration_route:
//	    opaque               contact_prefs<0..2^16-1>;
//	    Destination          destination_list<3..2^16-1>;
//
//	  /* This type can be extended */
//
//	} SipRegistrationData;
//
//	struct {
//	   SipRegistrationType   type;
//	   uint16                length;
//	   SipRegistrationData   data;
//	} SipRegistration;
//
// length is the byte length of data; Append computes it. By Type, the
// fields used are: URI (sip_registration_uri, an AOR); ContactPrefs and
// Destinations (sip_registration_route; destination_list has a 16-bit byte
// length prefix and must hold at least 3 bytes); Raw, the whole data, for
// any other type, so that it round-trips. Decode requires b to be consumed
// exactly (the registration fills a DataValue's value) and the data of a
// known type to fill length exactly. Slices alias the input and the
// capacity of Destinations is reused; use Clone to keep a value.
type SipRegistration struct {
	Type         SipRegistrationType
	URI          []byte
	ContactPrefs []byte
	Destinations []Destination
	Raw          []byte
}

// dataLen is the value of length.
func (s *SipRegistration) dataLen() int {
	switch s.Type {
	case SipRegistrationURI:
		return 2 + len(s.URI)
	case SipRegistrationRoute:
		return 2 + len(s.ContactPrefs) + 2 + destListLen(s.Destinations)
	}
	return len(s.Raw)
}

// Len is the encoded size.
func (s *SipRegistration) Len() int { return 3 + s.dataLen() }

// Decode reads a SipRegistration that fills b exactly.
func (s *SipRegistration) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "SipRegistration.type", 0)
	}
	n, err := r.ReadU16()
	if err != nil {
		return 0, fieldErr(err, "SipRegistration.length", 1)
	}
	data, err := r.ReadFixed(int(n))
	if err != nil {
		return 0, fieldErr(err, "SipRegistration.data", 3)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "SipRegistration", r.Offset())
	}
	s.Type = SipRegistrationType(t)
	s.URI, s.ContactPrefs, s.Raw = nil, nil, nil
	s.Destinations = s.Destinations[:0]
	d := NewReader(data)
	switch s.Type {
	case SipRegistrationURI:
		if s.URI, err = d.ReadVec16(); err != nil {
			return 0, fieldErr(err, "SipRegistration.uri", 3)
		}
	case SipRegistrationRoute:
		if s.ContactPrefs, err = d.ReadVec16(); err != nil {
			return 0, fieldErr(err, "SipRegistration.contact_prefs", 3)
		}
		off := 3 + d.Offset()
		list, err := d.ReadVec16()
		if err != nil {
			return 0, fieldErr(err, "SipRegistration.destination_list", off)
		}
		if len(list) < sipMinDestListLen {
			return 0, fieldErr(ErrInvalid, "SipRegistration.destination_list", off)
		}
		if s.Destinations, err = decodeDestList(s.Destinations, list, "SipRegistration.destination_list"); err != nil {
			return 0, fieldErr(err, "", off+2)
		}
	default:
		s.Raw = d.Rest()
	}
	if !d.Empty() {
		return 0, fieldErr(ErrTrailingData, "SipRegistration.data", 3+d.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *SipRegistration) Append(b []byte) ([]byte, error) {
	n := s.dataLen()
	if n > 0xffff {
		return b, fieldErr(ErrTooLong, "SipRegistration.length", 1)
	}
	b = append(b, byte(s.Type))
	b = AppendU16(b, uint16(n))
	var err error
	switch s.Type {
	case SipRegistrationURI:
		return AppendVec16(b, s.URI)
	case SipRegistrationRoute:
		b, _ = AppendVec16(b, s.ContactPrefs) // fits: n <= 0xffff
		off := 3 + 2 + len(s.ContactPrefs)
		dl := destListLen(s.Destinations)
		if dl < sipMinDestListLen {
			return b, fieldErr(ErrInvalid, "SipRegistration.destination_list", off)
		}
		b = AppendU16(b, uint16(dl))
		if b, err = appendDestList(b, s.Destinations, "SipRegistration.destination_list"); err != nil {
			return b, fieldErr(err, "", off+2)
		}
		return b, nil
	}
	return append(b, s.Raw...), nil
}

// Clone returns a deep copy of s that shares no memory with the input it
// was decoded from.
func (s *SipRegistration) Clone() SipRegistration {
	c := SipRegistration{
		Type:         s.Type,
		URI:          sipCloneBytes(s.URI),
		ContactPrefs: sipCloneBytes(s.ContactPrefs),
		Raw:          sipCloneBytes(s.Raw),
	}
	if s.Destinations != nil {
		c.Destinations = make([]Destination, len(s.Destinations))
		for i, d := range s.Destinations {
			d.ID = sipCloneBytes(d.ID)
			c.Destinations[i] = d
		}
	}
	return c
}

// sipCloneBytes copies b, keeping nil as nil.
func sipCloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
