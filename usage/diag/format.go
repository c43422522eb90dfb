package diag

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/wire"
)

// Value is one piece of diagnostic information as received: its kind and
// the raw diagnostic_info_contents (RFC 7851 §5.2), decoded on demand.
type Value struct {
	Kind     wire.DiagnosticKindID
	Contents []byte
}

// Name is the kind's name.
func (v Value) Name() string { return KindName(v.Kind) }

// Uint is the value of a fixed-size kind (RFC 7851 §5.3) as an integer: the
// congestion level of STATUS_INFO, seconds for the uptimes, KiB for
// MEMORY_FOOTPRINT, and so on.
func (v Value) Uint() (uint64, bool) {
	if v.Kind == wire.DiagStatusInfo {
		l, err := wire.DecodeStatusInfo(v.Contents)
		return uint64(l), err == nil
	}
	d := wire.DiagnosticInfo{Kind: v.Kind, Contents: v.Contents}
	u, err := d.Uint()
	return u, err == nil
}

// Text is the SOFTWARE_VERSION string.
func (v Value) Text() (string, bool) {
	if v.Kind != wire.DiagSoftwareVersion {
		return "", false
	}
	s, err := wire.DecodeSoftwareVersion(v.Contents)
	return string(s), err == nil
}

// Instances is INSTANCES_STORED as Kind-ID to count, without zero entries.
func (v Value) Instances() (map[wire.KindID]uint64, bool) {
	if v.Kind != wire.DiagInstancesStored {
		return nil, false
	}
	s, err := wire.DecodeInstancesStored(v.Contents)
	if err != nil {
		return nil, false
	}
	m := map[wire.KindID]uint64{}
	for i := range s.Len() {
		if c := s.Count(uint32(i)); c > 0 {
			m[wire.KindID(i)] = c
		}
	}
	return m, true
}

// Messages is MESSAGES_SENT_RCVD as message code to counts, without zero
// entries.
func (v Value) Messages() (map[wire.MessageCode]wire.SentRcvd, bool) {
	if v.Kind != wire.DiagMessagesSentRcvd {
		return nil, false
	}
	s, err := wire.DecodeMessagesSentRcvd(v.Contents)
	if err != nil {
		return nil, false
	}
	m := map[wire.MessageCode]wire.SentRcvd{}
	for i := range s.Len() {
		if e := s.At(i); e != (wire.SentRcvd{}) {
			m[wire.MessageCode(i)] = e
		}
	}
	return m, true
}

// Addresses is the KindUnderlayAddress list.
func (v Value) Addresses() ([]string, bool) {
	if v.Kind != KindUnderlayAddress {
		return nil, false
	}
	var out []string
	for b := v.Contents; len(b) > 0; {
		var a wire.IPAddressPort
		n, err := a.Decode(b)
		if err != nil || n == 0 {
			return nil, false
		}
		out = append(out, a.String())
		b = b[n:]
	}
	return out, true
}

// unit is the unit of a fixed-size kind, for display.
func unit(k wire.DiagnosticKindID) string {
	switch k {
	case wire.DiagProcessPower:
		return "MIPS"
	case wire.DiagUpstreamBandwidth, wire.DiagDownstreamBandwidth:
		return "kbit/s"
	case wire.DiagMachineUptime, wire.DiagAppUptime:
		return "s"
	case wire.DiagMemoryFootprint:
		return "KiB"
	case wire.DiagDatasizeStored:
		return "bytes"
	case wire.DiagEWMABytesSent, wire.DiagEWMABytesRcvd:
		return "bytes/s"
	}
	return ""
}

// jsonValue is the value as JSON: a number, a string, an object or a list;
// the raw contents in hexadecimal for what it cannot decode.
func (v Value) jsonValue() any {
	switch v.Kind {
	case wire.DiagBatteryStatus:
		if u, ok := v.Uint(); ok {
			return map[string]any{"on_battery": wire.OnBattery(uint8(u)), "low_bits": u & 0x7f}
		}
	case wire.DiagSoftwareVersion:
		if s, ok := v.Text(); ok {
			return s
		}
	case wire.DiagInstancesStored:
		if m, ok := v.Instances(); ok {
			o := map[string]uint64{}
			for k, c := range m {
				o[strconv.FormatUint(uint64(k), 10)] = c
			}
			return o
		}
	case wire.DiagMessagesSentRcvd:
		if m, ok := v.Messages(); ok {
			o := map[string][2]uint64{}
			for c, e := range m {
				o[c.String()] = [2]uint64{e.Sent, e.Rcvd}
			}
			return o
		}
	case KindUnderlayAddress:
		if a, ok := v.Addresses(); ok {
			return a
		}
	default:
		if u, ok := v.Uint(); ok {
			return u
		}
	}
	return hex.EncodeToString(v.Contents)
}

// MarshalJSON writes {"kind":N,"name":"...","value":...,"unit":"..."}.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind  uint16 `json:"kind"`
		Name  string `json:"name"`
		Value any    `json:"value"`
		Unit  string `json:"unit,omitempty"`
	}{uint16(v.Kind), v.Name(), v.jsonValue(), unit(v.Kind)})
}

// String is NAME=value with its unit, e.g. "MEMORY_FOOTPRINT=10240KiB",
// "APP_UPTIME=1h2m3s", "SOFTWARE_VERSION=\"goreload/...\"".
func (v Value) String() string {
	return v.Name() + "=" + v.valueString()
}

func (v Value) valueString() string {
	switch v.Kind {
	case wire.DiagStatusInfo:
		if u, ok := v.Uint(); ok {
			return fmt.Sprintf("%d/15", u)
		}
	case wire.DiagMachineUptime, wire.DiagAppUptime:
		if u, ok := v.Uint(); ok && u < 1<<33 {
			return (time.Duration(u) * time.Second).String()
		}
	case wire.DiagBatteryStatus:
		if u, ok := v.Uint(); ok {
			s := "mains"
			if wire.OnBattery(uint8(u)) {
				s = "battery"
			}
			return fmt.Sprintf("%s(%#02x)", s, u)
		}
	case wire.DiagSoftwareVersion:
		if s, ok := v.Text(); ok {
			return strconv.Quote(s)
		}
	case wire.DiagInstancesStored:
		if m, ok := v.Instances(); ok {
			return fmt.Sprint(m)
		}
	case wire.DiagMessagesSentRcvd:
		if m, ok := v.Messages(); ok {
			parts := make([]string, 0, len(m))
			for c := range wire.MessageCode(maxCodeEntries) {
				if e, ok := m[c]; ok {
					parts = append(parts, fmt.Sprintf("%v:%d/%d", c, e.Sent, e.Rcvd))
				}
			}
			return "[" + strings.Join(parts, " ") + "]"
		}
	case KindUnderlayAddress:
		if a, ok := v.Addresses(); ok {
			return strings.Join(a, ",")
		}
	default:
		if u, ok := v.Uint(); ok {
			return strconv.FormatUint(u, 10) + unit(v.Kind)
		}
	}
	return "0x" + hex.EncodeToString(v.Contents)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func idString(id wire.NodeID) string {
	if id.IsZero() {
		return ""
	}
	return id.String()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// String is one line in the manner of ping: who answered, in how long, over
// how many hops, then the values.
func (r Result) String() string {
	var b strings.Builder
	from := idString(r.From)
	if from == "" {
		from = r.Dest.String()
	}
	fmt.Fprintf(&b, "reply from %s: time=%.3f ms", from, ms(r.RTT))
	if !r.Diagnostics {
		b.WriteString(" (no diagnostics)")
		return b.String()
	}
	fmt.Fprintf(&b, " hops=%d", r.Hops)
	for _, v := range r.Values {
		b.WriteString(" ")
		b.WriteString(v.String())
	}
	return b.String()
}

// MarshalJSON writes the result with Node-IDs in hexadecimal and times in
// milliseconds.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Dest        string   `json:"dest"`
		From        string   `json:"from,omitempty"`
		RTTms       float64  `json:"rtt_ms"`
		ResponseID  uint64   `json:"response_id"`
		Diagnostics bool     `json:"diagnostics"`
		HopCounter  uint8    `json:"hop_counter,omitempty"`
		Hops        int      `json:"hops,omitempty"`
		OneWayms    *float64 `json:"one_way_ms,omitempty"`
		Values      []Value  `json:"values,omitempty"`
	}{
		Dest: r.Dest.String(), From: idString(r.From), RTTms: ms(r.RTT), ResponseID: r.ResponseID,
		Diagnostics: r.Diagnostics, HopCounter: r.HopCounter, Hops: r.Hops,
		OneWayms: oneWay(r), Values: r.Values,
	})
}

func oneWay(r Result) *float64 {
	if !r.Diagnostics {
		return nil
	}
	d := ms(r.OneWayDelay())
	return &d
}

// String is one line in the manner of traceroute: number, peer, time, then
// the values, or the error where the path stopped.
func (h Hop) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%2d  %s", h.N, idString(h.Node))
	if h.Err != nil {
		fmt.Fprintf(&b, "  !  %v", h.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "  %.3f ms", ms(h.RTT))
	for _, v := range h.Values {
		b.WriteString("  ")
		b.WriteString(v.String())
	}
	return b.String()
}

// MarshalJSON writes the hop with Node-IDs in hexadecimal and the time in
// milliseconds.
func (h Hop) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N          int     `json:"n"`
		Node       string  `json:"node"`
		NextHop    string  `json:"next_hop,omitempty"`
		RTTms      float64 `json:"rtt_ms"`
		HopCounter uint8   `json:"hop_counter,omitempty"`
		Hops       int     `json:"hops,omitempty"`
		Values     []Value `json:"values,omitempty"`
		Error      string  `json:"error,omitempty"`
	}{h.N, idString(h.Node), idString(h.NextHop), ms(h.RTT), h.HopCounter, h.Hops, h.Values, errString(h.Err)})
}

// WriteTraceroute writes hops as traceroute does, under a header line
// naming dest.
func WriteTraceroute(w io.Writer, dest wire.Destination, hops []Hop) error {
	if _, err := fmt.Fprintf(w, "traceroute to %v, %d hops\n", dest, len(hops)); err != nil {
		return err
	}
	for _, h := range hops {
		if _, err := fmt.Fprintln(w, h.String()); err != nil {
			return err
		}
	}
	return nil
}
