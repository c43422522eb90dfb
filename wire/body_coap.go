package wire

import "strconv"

// This file holds the values of the CoAP usage (RFC 7650 §7, §8): the
// CoAPRegistration stored under CoAP-REGISTRATION and the CoAPCaching
// stored under CoAP-CACHING. Both fill a DataValue's value exactly.
//
// The RFC writes several variable-length fields as a bare "opaque"
// without bounds (coap_uri, dev_info, value). They are encoded here as
// opaque<0..2^16-1>, the bound the RFC gives coap_uris, so that the
// structure can be parsed at all. Node-IDs are bare NodeIds of the
// overlay's length: IDLen is a decode parameter (0 means
// DefaultNodeIDLen) that Decode reads and never overwrites.

// CoAPRegistration is the value of the CoAP-REGISTRATION Kind (RFC 7650
// §8.1), a dictionary entry keyed by the storing node's Node-ID:
//
//	struct {
//	 Node-ID Node_ID;
//	 uint16 coap_uris_length;
//	 opaque coap_uris (0..2^16-1);
//	} CoAPRegistration;
//
// URIs is coap_uris, a CoRE link-format list of the resources reachable
// through the node (RFC 6690, RFC 7650 §4). Decode requires b to be
// consumed exactly. URIs aliases the input; use Clone to keep a value.
type CoAPRegistration struct {
	NodeID NodeID
	URIs   []byte
	IDLen  int
}

// Len is the encoded size.
func (c *CoAPRegistration) Len() int { return nodeIDLen(c.IDLen) + 2 + len(c.URIs) }

// Decode reads a CoAPRegistration that fills b exactly.
func (c *CoAPRegistration) Decode(b []byte) (int, error) {
	r := NewReader(b)
	id, err := r.ReadNodeID(c.IDLen)
	if err != nil {
		return 0, fieldErr(err, "CoAPRegistration.Node_ID", 0)
	}
	off := r.Offset()
	uris, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "CoAPRegistration.coap_uris", off)
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "CoAPRegistration", r.Offset())
	}
	c.NodeID, c.URIs = id, uris
	return r.Offset(), nil
}

// Append appends the encoding of c.
func (c *CoAPRegistration) Append(b []byte) ([]byte, error) {
	if err := topoCheckID(&c.NodeID, c.IDLen); err != nil {
		return b, fieldErr(err, "CoAPRegistration.Node_ID", 0)
	}
	if len(c.URIs) > 0xffff {
		return b, fieldErr(ErrTooLong, "CoAPRegistration.coap_uris", nodeIDLen(c.IDLen))
	}
	b = append(b, c.NodeID.Bytes()...)
	return AppendVec16(b, c.URIs)
}

// Clone returns a deep copy of c.
func (c *CoAPRegistration) Clone() CoAPRegistration {
	return CoAPRegistration{NodeID: c.NodeID, URIs: sipCloneBytes(c.URIs), IDLen: c.IDLen}
}

// CoAPCachingType selects the form of a CoAPCaching (RFC 7650 §7):
//
//	enum { reserved (0), proxy_cache(1), sensor_cache(2), (255) }
//	             CoAPCachingType;
type CoAPCachingType uint8

// CoAP caching types.
const (
	CoAPProxyCache  CoAPCachingType = 1
	CoAPSensorCache CoAPCachingType = 2
)

func (t CoAPCachingType) String() string {
	switch t {
	case CoAPProxyCache:
		return "proxy_cache"
	case CoAPSensorCache:
		return "sensor_cache"
	}
	return "CoAPCachingType(" + strconv.Itoa(int(t)) + ")"
}

// SensorValue is one measurement (RFC 7650 §7.2):
//
//	struct {
//	 uint32  measurement_time;
//	 uint32  lifetime;
//	 opaque  value;
//	 /* extensions */
//	} SensorValue;
//
// MeasurementTime is milliseconds since 1970 UTC; the field is 32 bits
// wide, so it holds that count modulo 2^32 as the RFC defines it.
// Lifetime is in milliseconds after MeasurementTime. Value aliases the
// input.
type SensorValue struct {
	MeasurementTime uint32
	Lifetime        uint32
	Value           []byte
}

// Len is the encoded size.
func (v *SensorValue) Len() int { return 4 + 4 + 2 + len(v.Value) }

// Decode reads a SensorValue from the start of b.
func (v *SensorValue) Decode(b []byte) (int, error) {
	r := NewReader(b)
	mt, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "SensorValue.measurement_time", 0)
	}
	lt, err := r.ReadU32()
	if err != nil {
		return 0, fieldErr(err, "SensorValue.lifetime", 4)
	}
	val, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "SensorValue.value", 8)
	}
	v.MeasurementTime, v.Lifetime, v.Value = mt, lt, val
	return r.Offset(), nil
}

// Append appends the encoding of v.
func (v *SensorValue) Append(b []byte) ([]byte, error) {
	b = AppendU32(b, v.MeasurementTime)
	b = AppendU32(b, v.Lifetime)
	b, err := AppendVec16(b, v.Value)
	if err != nil {
		return b, fieldErr(err, "SensorValue.value", 8)
	}
	return b, nil
}

// sensorValuesLen is the encoded size of a list of values without its
// length field.
func sensorValuesLen(vs []SensorValue) int {
	n := 0
	for i := range vs {
		n += vs[i].Len()
	}
	return n
}

// decodeSensorValues reads "uint32 length; SensorValue sensor_value[count]"
// from r, reusing list's capacity.
func decodeSensorValues(list []SensorValue, r *Reader, field string) ([]SensorValue, error) {
	list = list[:0]
	off := r.Offset()
	w, err := r.ReadVec32()
	if err != nil {
		return list, fieldErr(err, field, off)
	}
	wr := NewReader(w)
	for !wr.Empty() {
		o := wr.Offset()
		var v SensorValue
		n, err := v.Decode(wr.Peek())
		if err != nil {
			return list, indexErr(err, field, len(list), off+4+o)
		}
		_ = wr.Skip(n)
		list = append(list, v)
	}
	return list, nil
}

// appendSensorValues appends "uint32 length; SensorValue sensor_value[count]".
func appendSensorValues(b []byte, list []SensorValue, field string) ([]byte, error) {
	b, mark := BeginVec(b, 4)
	for i := range list {
		var err error
		if b, err = list[i].Append(b); err != nil {
			return b, indexErr(err, field, i, 0)
		}
	}
	return EndVec(b, mark, 4)
}

func cloneSensorValues(vs []SensorValue) []SensorValue {
	if vs == nil {
		return nil
	}
	out := make([]SensorValue, len(vs))
	for i, v := range vs {
		v.Value = sipCloneBytes(v.Value)
		out[i] = v
	}
	return out
}

// SensorEntry is one sensor of a ProxyCache (RFC 7650 §7.1):
//
//	struct {
//	 opaque  coap_uri;
//	 SensorInfo  sensor_info;
//	 uint32  length;
//	 SensorValue sensor_value[count];
//	} SensorEntry;
//
//	struct {
//	 opaque  dev_info;
//	 /* extensions */
//	} SensorInfo;
//
// DevInfo is SensorInfo.dev_info. Slices alias the input.
type SensorEntry struct {
	URI     []byte
	DevInfo []byte
	Values  []SensorValue
}

// Len is the encoded size.
func (e *SensorEntry) Len() int {
	return 2 + len(e.URI) + 2 + len(e.DevInfo) + 4 + sensorValuesLen(e.Values)
}

// Decode reads a SensorEntry from the start of b.
func (e *SensorEntry) Decode(b []byte) (int, error) {
	r := NewReader(b)
	uri, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "SensorEntry.coap_uri", 0)
	}
	off := r.Offset()
	info, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "SensorEntry.sensor_info.dev_info", off)
	}
	vals, err := decodeSensorValues(e.Values, &r, "SensorEntry.sensor_value")
	if err != nil {
		return 0, err
	}
	e.URI, e.DevInfo, e.Values = uri, info, vals
	return r.Offset(), nil
}

// Append appends the encoding of e.
func (e *SensorEntry) Append(b []byte) ([]byte, error) {
	b, err := AppendVec16(b, e.URI)
	if err != nil {
		return b, fieldErr(err, "SensorEntry.coap_uri", 0)
	}
	if b, err = AppendVec16(b, e.DevInfo); err != nil {
		return b, fieldErr(err, "SensorEntry.sensor_info.dev_info", 2+len(e.URI))
	}
	return appendSensorValues(b, e.Values, "SensorEntry.sensor_value")
}

// CoAPCaching is the value of the CoAP-CACHING Kind (RFC 7650 §7, §8.2):
//
//	struct {
//	 CoAPCachingType coap_caching_type;
//	 select(coap_caching_type) {
//	  case proxy_cache: ProxyCache proxy_cache_entry;
//	  case sensor_cache: SensorCache sensor_cache_entry;
//	  /* extensions */
//	 }
//	} CoAPCaching;
//
//	struct {
//	 Node-ID  Node_ID;
//	 uint32   length;
//	 SensorEntry sensors[count];
//	} ProxyCache;
//
//	struct {
//	 Node-ID  Node_ID;
//	 SensorInfo sensor_info;
//	 uint32  length;
//	 SensorValue sensor_value[count];
//	} SensorCache;
//
// NodeID is the proxy node's Node-ID in either form. By Type, the fields
// used are Sensors (proxy_cache); DevInfo and Values (sensor_cache); Raw,
// everything after the type, for any other type, so that it round-trips.
// Decode requires b to be consumed exactly. Slices alias the input; use
// Clone to keep a value.
type CoAPCaching struct {
	Type    CoAPCachingType
	NodeID  NodeID
	Sensors []SensorEntry
	DevInfo []byte
	Values  []SensorValue
	Raw     []byte
	IDLen   int
}

// Len is the encoded size.
func (c *CoAPCaching) Len() int {
	switch c.Type {
	case CoAPProxyCache:
		n := 1 + nodeIDLen(c.IDLen) + 4
		for i := range c.Sensors {
			n += c.Sensors[i].Len()
		}
		return n
	case CoAPSensorCache:
		return 1 + nodeIDLen(c.IDLen) + 2 + len(c.DevInfo) + 4 + sensorValuesLen(c.Values)
	}
	return 1 + len(c.Raw)
}

// Decode reads a CoAPCaching that fills b exactly.
func (c *CoAPCaching) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "CoAPCaching.coap_caching_type", 0)
	}
	c.Type = CoAPCachingType(t)
	c.NodeID, c.DevInfo, c.Raw = NodeID{}, nil, nil
	c.Sensors, c.Values = c.Sensors[:0], c.Values[:0]
	switch c.Type {
	case CoAPProxyCache:
		if c.NodeID, err = r.ReadNodeID(c.IDLen); err != nil {
			return 0, fieldErr(err, "ProxyCache.Node_ID", 1)
		}
		off := r.Offset()
		w, err := r.ReadVec32()
		if err != nil {
			return 0, fieldErr(err, "ProxyCache.sensors", off)
		}
		wr := NewReader(w)
		for !wr.Empty() {
			o := wr.Offset()
			var e SensorEntry
			n, err := e.Decode(wr.Peek())
			if err != nil {
				return 0, indexErr(err, "ProxyCache.sensors", len(c.Sensors), off+4+o)
			}
			_ = wr.Skip(n)
			c.Sensors = append(c.Sensors, e)
		}
	case CoAPSensorCache:
		if c.NodeID, err = r.ReadNodeID(c.IDLen); err != nil {
			return 0, fieldErr(err, "SensorCache.Node_ID", 1)
		}
		off := r.Offset()
		if c.DevInfo, err = r.ReadVec16(); err != nil {
			return 0, fieldErr(err, "SensorCache.sensor_info.dev_info", off)
		}
		if c.Values, err = decodeSensorValues(c.Values, &r, "SensorCache.sensor_value"); err != nil {
			return 0, err
		}
	default:
		c.Raw = r.Rest()
	}
	if !r.Empty() {
		return 0, fieldErr(ErrTrailingData, "CoAPCaching", r.Offset())
	}
	return r.Offset(), nil
}

// Append appends the encoding of c.
func (c *CoAPCaching) Append(b []byte) ([]byte, error) {
	b = append(b, byte(c.Type))
	switch c.Type {
	case CoAPProxyCache, CoAPSensorCache:
		if err := topoCheckID(&c.NodeID, c.IDLen); err != nil {
			return b, fieldErr(err, "CoAPCaching.Node_ID", 1)
		}
		b = append(b, c.NodeID.Bytes()...)
	default:
		return append(b, c.Raw...), nil
	}
	if c.Type == CoAPSensorCache {
		b, err := AppendVec16(b, c.DevInfo)
		if err != nil {
			return b, fieldErr(err, "SensorCache.sensor_info.dev_info", 1+nodeIDLen(c.IDLen))
		}
		return appendSensorValues(b, c.Values, "SensorCache.sensor_value")
	}
	b, mark := BeginVec(b, 4)
	for i := range c.Sensors {
		var err error
		if b, err = c.Sensors[i].Append(b); err != nil {
			return b, indexErr(err, "ProxyCache.sensors", i, 0)
		}
	}
	return EndVec(b, mark, 4)
}

// Clone returns a deep copy of c.
func (c *CoAPCaching) Clone() CoAPCaching {
	out := CoAPCaching{Type: c.Type, NodeID: c.NodeID, DevInfo: sipCloneBytes(c.DevInfo),
		Values: cloneSensorValues(c.Values), Raw: sipCloneBytes(c.Raw), IDLen: c.IDLen}
	if c.Sensors != nil {
		out.Sensors = make([]SensorEntry, len(c.Sensors))
		for i, e := range c.Sensors {
			out.Sensors[i] = SensorEntry{URI: sipCloneBytes(e.URI), DevInfo: sipCloneBytes(e.DevInfo), Values: cloneSensorValues(e.Values)}
		}
	}
	return out
}
