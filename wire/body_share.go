package wire

// AccessControlListItem is the value of an ACCESS-CONTROL-LIST (Kind-ID
// 0x4) array entry (RFC 8076 §4.2, §7):
//
//	struct {
//	     /* res_name_ext is optional, see documentation */
//	     ResourceNameExtension  res_name_ext;
//	     opaque                 to_user<0..2^16-1>;
//	     KindId                 kind;
//	     Boolean                allow_delegation;
//	} AccessControlListItem;
//
// res_name_ext is present only when the configuration enables variable
// resource names for the Kind (RFC 8076 §5.3); the encoding does not say
// so, so Decode reads an item without it and DecodeNameExt one with it.
// Append writes it when HasNameExt is set. Both decoders require b (the
// DataValue's value) to be consumed exactly. ToUser and NameExt alias the
// input; use Clone to keep an item.
type AccessControlListItem struct {
	HasNameExt      bool
	NameExt         ResourceNameExtension
	ToUser          []byte
	Kind            KindID
	AllowDelegation bool
}

// Len is the encoded size.
func (a *AccessControlListItem) Len() int {
	n := 2 + len(a.ToUser) + 4 + 1
	if a.HasNameExt {
		n += a.NameExt.Len()
	}
	return n
}

// Decode reads an item without res_name_ext that fills b exactly.
func (a *AccessControlListItem) Decode(b []byte) (int, error) { return a.decode(b, false) }

// DecodeNameExt reads an item that starts with res_name_ext and fills b
// exactly.
func (a *AccessControlListItem) DecodeNameExt(b []byte) (int, error) { return a.decode(b, true) }

func (a *AccessControlListItem) decode(b []byte, ext bool) (int, error) {
	var x ResourceNameExtension
	base := 0
	if ext {
		n, err := x.Decode(b)
		if err != nil {
			return 0, fieldErr(err, "AccessControlListItem.res_name_ext", 0)
		}
		base = n
	}
	r := NewReader(b[base:])
	user, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "AccessControlListItem.to_user", base)
	}
	off := base + r.Offset()
	kind, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "AccessControlListItem.kind", off)
	}
	ad, err := r.ReadBool()
	if err != nil {
		return 0, fieldErr(err, "AccessControlListItem.allow_delegation", off+4)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "AccessControlListItem", base+r.Offset())
	}
	*a = AccessControlListItem{HasNameExt: ext, NameExt: x, ToUser: user, Kind: KindID(kind), AllowDelegation: ad}
	return len(b), nil
}

// Append appends the encoding of a.
func (a *AccessControlListItem) Append(b []byte) ([]byte, error) {
	start := len(b)
	var err error
	if a.HasNameExt {
		if b, err = a.NameExt.Append(b); err != nil {
			return b, fieldErr(err, "AccessControlListItem.res_name_ext", 0)
		}
	}
	off := len(b) - start
	if b, err = AppendVec16(b, a.ToUser); err != nil {
		return b, fieldErr(err, "AccessControlListItem.to_user", off)
	}
	b = AppendU32(b, uint32(a.Kind))
	return AppendBool(b, a.AllowDelegation), nil
}

// Clone returns a copy of a that shares no memory with its input.
func (a *AccessControlListItem) Clone() AccessControlListItem {
	c := *a
	c.ToUser = sipCloneBytes(a.ToUser)
	c.NameExt.ResourceName = sipCloneBytes(a.NameExt.ResourceName)
	c.NameExt.Raw = sipCloneBytes(a.NameExt.Raw)
	return c
}
