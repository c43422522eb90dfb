package main

import (
	"bufio"
	"bytes"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/goreload/reload/wire"
)

const dissectHelp = `usage: reload dissect [flags] [FILE ...]

Decode every RELOAD message (RFC 6940) found in pcap/pcapng captures, in a
hex string, or in raw bytes on standard input, and print it as text or JSON.
Input may be a whole message, a framed DATA/ACK frame (RFC 6940 §6.6.2), or
a capture holding either over UDP or TCP. Encrypted (D)TLS records are
skipped. Names follow the RFCs, also where Wireshark's differ (PathTrack
0x27/0x28, Diagnostic_Ping extension 2, RFC 7851 error codes and kinds).

With no FILE and no --hex, raw bytes are read from standard input.

Exit status: 0 when every message decoded (and, with --verify, re-encoded
to identical bytes); 1 when any failed, with the byte offset and field path
of the failure; 2 for a bad command line or unreadable input.

Flags:
`

type dissectOpts struct {
	json    bool
	verify  bool
	idLen   int
	hexIn   string
	summary bool
}

func runDissect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dissect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o dissectOpts
	fs.BoolVar(&o.json, "json", false, "print one JSON object per message")
	fs.BoolVar(&o.verify, "verify", false, "re-encode each decoded message and report whether the bytes are identical")
	fs.IntVar(&o.idLen, "node-id-length", wire.DefaultNodeIDLen, "Node-ID length of the overlay in bytes (16..20)")
	fs.StringVar(&o.hexIn, "hex", "", "decode this hex string (white space and ':' allowed)")
	fs.BoolVar(&o.summary, "summary", false, "one line per message")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), dissectHelp)
		fs.PrintDefaults()
	}
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if o.idLen < wire.MinNodeIDLen || o.idLen > wire.MaxNodeIDLen {
		fmt.Fprintf(stderr, "reload dissect: --node-id-length must be 16..20, not %d\n", o.idLen)
		return exitUsage
	}
	d := &dissector{opts: o, out: stdout, errw: stderr}
	switch {
	case o.hexIn != "":
		if fs.NArg() > 0 {
			fmt.Fprintln(stderr, "reload dissect: give either --hex or files, not both")
			return exitUsage
		}
		raw, err := parseHex(o.hexIn)
		if err != nil {
			fmt.Fprintf(stderr, "reload dissect: --hex: %v\n", err)
			return exitUsage
		}
		d.raw("hex", raw)
	case fs.NArg() == 0:
		raw, err := io.ReadAll(os.Stdin)
		if err != nil {
			fmt.Fprintf(stderr, "reload dissect: reading standard input: %v\n", err)
			return exitUsage
		}
		d.input("stdin", raw)
	default:
		for _, name := range fs.Args() {
			raw, err := os.ReadFile(name)
			if err != nil {
				fmt.Fprintf(stderr, "reload dissect: %v\n", err)
				return exitUsage
			}
			d.input(name, raw)
		}
	}
	if !o.json {
		fmt.Fprintf(stdout, "%d RELOAD messages, %d frames, %d failed", d.messages, d.frames, d.failed)
		if o.verify {
			fmt.Fprintf(stdout, ", %d re-encoded identically", d.identical)
		}
		if d.encrypted > 0 {
			fmt.Fprintf(stdout, ", %d encrypted records skipped", d.encrypted)
		}
		fmt.Fprintln(stdout)
	}
	if d.failed > 0 || d.messages+d.frames == 0 {
		if d.messages+d.frames == 0 && d.failed == 0 {
			fmt.Fprintln(stderr, "reload dissect: no RELOAD message found")
		}
		return exitFail
	}
	return exitOK
}

func parseHex(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', ':':
			return -1
		}
		return r
	}, s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	return hex.DecodeString(s)
}

// dissector walks inputs and prints what it finds.
type dissector struct {
	opts      dissectOpts
	out, errw io.Writer

	messages, frames, failed, identical, encrypted int
}

var (
	pcapMagics  = [][]byte{{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}}
	pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}
)

// input decides between a capture and raw bytes.
func (d *dissector) input(name string, raw []byte) {
	if len(raw) >= 4 {
		for _, m := range pcapMagics {
			if bytes.Equal(raw[:4], m) {
				d.capture(name, raw, false)
				return
			}
		}
		if bytes.Equal(raw[:4], pcapngMagic) {
			d.capture(name, raw, true)
			return
		}
	}
	d.raw(name, raw)
}

// packetSource abstracts the pcap and pcapng readers.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

func (d *dissector) capture(name string, raw []byte, ng bool) {
	var src packetSource
	var err error
	if ng {
		src, err = pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
	} else {
		src, err = pcapgo.NewReader(bytes.NewReader(raw))
	}
	if err != nil {
		d.fail(name, fmt.Errorf("not a readable capture: %w", err))
		return
	}
	for n := 1; ; n++ {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			return
		}
		if err != nil {
			d.fail(fmt.Sprintf("%s frame %d", name, n), fmt.Errorf("reading capture: %w", err))
			return
		}
		pkt := gopacket.NewPacket(data, src.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		var where string
		var payload []byte
		stream := false
		if u, ok := pkt.TransportLayer().(*layers.UDP); ok {
			where, payload = endpoints(pkt, int(u.SrcPort), int(u.DstPort)), u.Payload
		} else if t, ok := pkt.TransportLayer().(*layers.TCP); ok {
			where, payload, stream = endpoints(pkt, int(t.SrcPort), int(t.DstPort)), t.Payload, true
		} else {
			continue
		}
		label := fmt.Sprintf("frame %d %s", n, where)
		switch {
		case len(payload) == 0:
		case isDTLSOrTLS(payload):
			d.encrypted++
		case payload[0] == byte(wire.FrameData) || payload[0] == byte(wire.FrameAck):
			d.framed(label, payload, stream)
		case looksLikeMessage(payload):
			d.message(label, payload, 0)
		}
	}
}

func endpoints(pkt gopacket.Packet, sp, dp int) string {
	if nl := pkt.NetworkLayer(); nl != nil {
		f := nl.NetworkFlow()
		return fmt.Sprintf("%s:%d -> %s:%d", f.Src(), sp, f.Dst(), dp)
	}
	return fmt.Sprintf("port %d -> %d", sp, dp)
}

// isDTLSOrTLS recognises (D)TLS record headers: content types 20-24 and
// version 3.x / DTLS 0xfe.
func isDTLSOrTLS(b []byte) bool {
	return len(b) >= 3 && b[0] >= 20 && b[0] <= 24 && (b[1] == 3 || b[1] == 0xfe)
}

func looksLikeMessage(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xd2 && b[1] == 0x45 && b[2] == 0x4c && b[3] == 0x4f
}

// raw handles bytes that are one message or a run of frames.
func (d *dissector) raw(name string, b []byte) {
	switch {
	case looksLikeMessage(b):
		d.message(name, b, 0)
	case len(b) > 0 && (b[0] == byte(wire.FrameData) || b[0] == byte(wire.FrameAck)):
		d.framed(name, b, true)
	default:
		d.fail(name, errors.New("input is neither a RELOAD message (no RELO token), a DATA/ACK frame, nor a pcap/pcapng capture"))
	}
}

// framed decodes frames; on a stream (TCP, raw input) several follow each
// other.
func (d *dissector) framed(label string, b []byte, stream bool) {
	off := 0
	for off < len(b) {
		var f wire.FramedMessage
		n, err := f.Decode(b[off:])
		if err != nil {
			d.failAt(label, err, off)
			return
		}
		d.frames++
		at := label
		if off > 0 {
			at = fmt.Sprintf("%s +%d", label, off)
		}
		d.printFrame(at, &f)
		if f.Type == wire.FrameData {
			d.message(at, f.Message, off+8)
		}
		off += n
		if !stream {
			if off != len(b) {
				d.failAt(label, fmt.Errorf("%w: %d bytes after the frame", wire.ErrTrailingData, len(b)-off), off)
			}
			return
		}
	}
}

// failAt reports err with offsets shifted by base.
func (d *dissector) failAt(label string, err error, base int) {
	var de *wire.DecodeError
	if errors.As(err, &de) {
		de.Offset += base
	}
	d.fail(label, err)
}

func (d *dissector) fail(label string, err error) {
	d.failed++
	if d.opts.json {
		d.emit(map[string]any{"where": label, "error": err.Error()})
		return
	}
	fmt.Fprintf(d.errw, "%s: %v\n", label, err)
}

func (d *dissector) emit(v any) {
	enc := json.NewEncoder(d.out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (d *dissector) printFrame(label string, f *wire.FramedMessage) {
	if d.opts.json {
		if f.Type == wire.FrameAck {
			d.emit(map[string]any{"where": label, "frame": "ack", "ack_sequence": f.Sequence, "received": fmt.Sprintf("0x%08x", f.Received)})
		}
		return
	}
	if f.Type == wire.FrameAck {
		fmt.Fprintf(d.out, "%s: ACK ack_sequence=%d received=%032b\n", label, f.Sequence, f.Received)
		return
	}
	if !d.opts.summary {
		fmt.Fprintf(d.out, "%s: DATA sequence=%d length=%d\n", label, f.Sequence, len(f.Message))
	}
}

// message decodes and prints one RELOAD message; base is its offset in the
// enclosing input, for error offsets.
func (d *dissector) message(label string, b []byte, base int) {
	var m wire.Message
	n, err := m.Decode(b)
	if err != nil {
		d.failAt(label, err, base)
		return
	}
	if n != len(b) {
		d.failAt(label, fmt.Errorf("%w: %d bytes after the message", wire.ErrTrailingData, len(b)-n), base+n)
		return
	}
	var body any
	var bodyErr error
	var bodyVal wire.Body
	if !m.Header.IsFragment() {
		if bv, ok := wire.NewBody(m.Contents.Code, d.opts.idLen); ok {
			if bn, err := bv.Decode(m.Contents.Body); err != nil {
				bodyErr = err
			} else if bn != len(m.Contents.Body) {
				bodyErr = fmt.Errorf("%w: %d bytes after the body", wire.ErrTrailingData, len(m.Contents.Body)-bn)
			} else {
				bodyVal, body = bv, bv
			}
		}
	}
	exts := make([]any, 0, len(m.Contents.Extensions))
	for i := range m.Contents.Extensions {
		exts = append(exts, describeExtension(&m.Contents, i))
	}
	d.messages++
	if bodyErr != nil {
		// Offset of the body within the message: header, code, length.
		bodyOff := m.Header.Len() + 2 + 4
		var de *wire.DecodeError
		if errors.As(bodyErr, &de) {
			de.Offset += bodyOff
		}
		d.failAt(label+" "+m.Contents.Code.String(), bodyErr, base)
	}
	verified := ""
	if d.opts.verify {
		verified = "identical"
		if enc, err := m.Append(nil); err != nil {
			verified = "re-encode failed: " + err.Error()
		} else if !bytes.Equal(enc, b) {
			verified = "DIFFERENT"
		} else if bodyVal != nil {
			if benc, err := bodyVal.Append(nil); err != nil || !bytes.Equal(benc, m.Contents.Body) {
				verified = "body DIFFERENT"
			}
		}
		if verified == "identical" {
			d.identical++
		} else {
			d.failed++
		}
	}
	if d.opts.json {
		obj := map[string]any{"where": label, "header": jsonValue(reflect.ValueOf(&m.Header))}
		if m.Header.IsFragment() {
			obj["fragment"] = map[string]any{"offset": m.Header.FragmentOffsetBytes(), "last": m.Header.LastFragment(), "bytes": len(m.Payload)}
		} else {
			obj["message_code"] = codeName(m.Contents.Code)
			if body != nil {
				obj["body"] = jsonValue(reflect.ValueOf(body))
			} else if bodyErr == nil {
				obj["body_hex"] = hex.EncodeToString(m.Contents.Body)
			}
			obj["extensions"] = exts
			obj["security"] = jsonValue(reflect.ValueOf(&m.Security))
		}
		if d.opts.verify {
			obj["verify"] = verified
		}
		d.emit(obj)
		return
	}
	h := &m.Header
	if d.opts.summary {
		name := "fragment"
		if !h.IsFragment() {
			name = codeName(m.Contents.Code)
		}
		fmt.Fprintf(d.out, "%s: %s txid=%016x ttl=%d len=%d%s\n", label, name, h.TransactionID, h.TTL, h.Length, suffix(verified))
		return
	}
	fmt.Fprintf(d.out, "%s: RELOAD message, %d bytes%s\n", label, h.Length, suffix(verified))
	fmt.Fprintf(d.out, "  forwarding header: overlay=0x%08x config_sequence=%d version=%s ttl=%d fragment=0x%08x transaction_id=0x%016x max_response_length=%d\n",
		h.Overlay, h.ConfigSequence, versionName(h.Version), h.TTL, h.Fragment, h.TransactionID, h.MaxResponseLength)
	fmt.Fprintf(d.out, "    via_list: %s\n    destination_list: %s\n", destList(h.Via), destList(h.Destinations))
	for _, o := range h.Options {
		fmt.Fprintf(d.out, "    option: %s flags=0x%02x value=%x\n", o.Type, o.Flags, o.Value)
	}
	if h.IsFragment() {
		fmt.Fprintf(d.out, "  fragment: offset=%d last=%v, %d bytes\n", h.FragmentOffsetBytes(), h.LastFragment(), len(m.Payload))
		return
	}
	fmt.Fprintf(d.out, "  %s, body %d bytes\n", codeName(m.Contents.Code), len(m.Contents.Body))
	if body != nil {
		printTree(d.out, "    ", reflect.ValueOf(body))
	}
	for _, e := range exts {
		fmt.Fprintf(d.out, "  extension: ")
		printInline(d.out, e)
	}
	s := &m.Security
	fmt.Fprintf(d.out, "  security: %d certificates, signature %s by %s (%d bytes)\n",
		len(s.Certificates), s.Signature.Algorithm, s.Signature.Identity.Type, len(s.Signature.Value))
}

func suffix(v string) string {
	if v == "" {
		return ""
	}
	return " [verify: " + v + "]"
}

func versionName(v uint8) string {
	s := fmt.Sprintf("0x%02x", v)
	if v == wire.Version10 {
		return s + " (1.0)"
	}
	return s + " (not RELOAD 1.0)"
}

func codeName(c wire.MessageCode) string {
	return fmt.Sprintf("%s (0x%04x)", c, uint16(c))
}

func destList(l []wire.Destination) string {
	if len(l) == 0 {
		return "(empty)"
	}
	parts := make([]string, len(l))
	for i, d := range l {
		parts[i] = d.String()
	}
	return strings.Join(parts, ", ")
}

// describeExtension decodes the contents of the extensions this stack
// knows.
func describeExtension(c *wire.MessageContents, i int) any {
	e := &c.Extensions[i]
	out := map[string]any{"type": fmt.Sprintf("%s (0x%04x)", e.Type, uint16(e.Type)), "critical": e.Critical}
	if v, ok := wire.NewExtension(e.Type, c.Code); ok {
		if n, err := v.Decode(e.Contents); err == nil && n == len(e.Contents) {
			out["contents"] = jsonValue(reflect.ValueOf(v))
			return out
		} else if err != nil {
			out["error"] = err.Error()
		}
	}
	out["contents_hex"] = hex.EncodeToString(e.Contents)
	return out
}

// jsonValue turns a decoded value into JSON-friendly data: byte slices as
// hex, enums as "name (value)", structs as objects keyed by field name.
func jsonValue(v reflect.Value) any { return convValue(v, false) }

// textValue is jsonValue for the text output: byte strings that are
// printable ASCII are shown quoted instead of in hex.
func textValue(v reflect.Value) any { return convValue(v, true) }

func convValue(v reflect.Value, text bool) any {
	if !v.IsValid() {
		return nil
	}
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		return convValue(v.Elem(), text)
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case wire.NodeID:
			return x.String()
		case wire.Destination:
			return x.String()
		}
		if tm, ok := v.Interface().(encoding.TextMarshaler); ok && v.Kind() == reflect.Struct {
			if b, err := tm.MarshalText(); err == nil {
				return string(b)
			}
		}
		if s, ok := v.Interface().(fmt.Stringer); ok && isInt(v.Kind()) {
			return s.String() + " (" + strconv.FormatUint(toUint(v), 10) + ")"
		}
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if text && printableASCII(v.Bytes()) {
				return strconv.Quote(string(v.Bytes()))
			}
			return hex.EncodeToString(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = convValue(v.Index(i), text)
		}
		return out
	case reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = convValue(v.Index(i), text)
		}
		return out
	case reflect.Struct:
		var out orderedMap
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "IDLen" || f.Name == "Models" {
				continue
			}
			out = append(out, kv{f.Name, convValue(v.Field(i), text)})
		}
		return out
	}
	if v.CanInterface() {
		return v.Interface()
	}
	return nil
}

func printableASCII(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

func toUint(v reflect.Value) uint64 {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return uint64(v.Int())
	}
	return v.Uint()
}

// printTree prints a decoded value as indented "Field: value" lines.
func printTree(w io.Writer, indent string, v reflect.Value) {
	writeTree(bufio.NewWriter(w), indent, textValue(v), true)
}

func writeTree(w *bufio.Writer, indent string, v any, top bool) {
	defer w.Flush()
	switch x := v.(type) {
	case orderedMap:
		for _, f := range x {
			k := f.K
			switch c := f.V.(type) {
			case orderedMap, []any:
				if l, ok := c.([]any); ok && len(l) == 0 {
					fmt.Fprintf(w, "%s%s: []\n", indent, k)
					continue
				}
				fmt.Fprintf(w, "%s%s:\n", indent, k)
				writeTree(w, indent+"  ", c, false)
			default:
				fmt.Fprintf(w, "%s%s: %v\n", indent, k, c)
			}
		}
	case []any:
		for i, e := range x {
			switch e.(type) {
			case orderedMap, []any:
				fmt.Fprintf(w, "%s[%d]:\n", indent, i)
				writeTree(w, indent+"  ", e, false)
			default:
				fmt.Fprintf(w, "%s[%d]: %v\n", indent, i, e)
			}
		}
	default:
		fmt.Fprintf(w, "%s%v\n", indent, x)
	}
}

func printInline(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", b)
}

// orderedMap is a struct rendered as JSON with its fields in declaration
// order.
type orderedMap []kv

type kv struct {
	K string
	V any
}

// MarshalJSON writes the fields in order.
func (m orderedMap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.K)
		v, err := json.Marshal(f.V)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
