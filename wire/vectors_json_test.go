package wire

import (
	"encoding"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var updateVectorsJSON = flag.Bool("update", false, "rewrite testdata/vectors/vectors.json from the .hex vectors")

// vectorTypes names the structure each golden vector holds, for the
// decoded fields of vectors.json. A vector missing here (a destination
// list, which is not one structure) is published without them.
var vectorTypes = map[string]func() codec{
	"app_attach_ans":             func() codec { return new(AppAttachAns) },
	"app_attach_req":             func() codec { return new(AppAttachReq) },
	"array_entry":                func() codec { return new(ArrayEntry) },
	"array_entry_meta":           func() codec { return new(ArrayEntryMeta) },
	"array_range":                func() codec { return new(ArrayRange) },
	"attach_req_ans":             func() codec { return new(AttachReqAns) },
	"chord_leave_data":           func() codec { return new(ChordLeaveData) },
	"chord_route_query_ans":      func() codec { return new(ChordRouteQueryAns) },
	"chord_update_full":          func() codec { return new(ChordUpdate) },
	"chord_update_neighbors":     func() codec { return new(ChordUpdate) },
	"chord_update_peer_ready":    func() codec { return new(ChordUpdate) },
	"config_update_ans":          func() codec { return new(ConfigUpdateAns) },
	"config_update_req_config":   func() codec { return new(ConfigUpdateReq) },
	"config_update_req_kind":     func() codec { return new(ConfigUpdateReq) },
	"config_update_req_unknown":  func() codec { return new(ConfigUpdateReq) },
	"data_value":                 func() codec { return new(DataValue) },
	"diagnostic_extension":       func() codec { return new(DiagnosticExtension) },
	"diagnostic_info":            func() codec { return new(DiagnosticInfo) },
	"diagnostics_request":        func() codec { return new(DiagnosticsRequest) },
	"diagnostics_response":       func() codec { return new(DiagnosticsResponse) },
	"dictionary_entry":           func() codec { return new(DictionaryEntry) },
	"dictionary_entry_meta":      func() codec { return new(DictionaryEntryMeta) },
	"dictionary_key":             func() codec { return new(DictionaryKey) },
	"extensive_routing_mode_drr": func() codec { return new(ExtensiveRoutingModeOption) },
	"extensive_routing_mode_rpr": func() codec { return new(ExtensiveRoutingModeOption) },
	"fetch_ans":                  func() codec { return new(FetchAns) },
	"fetch_kind_response":        func() codec { return new(FetchKindResponse) },
	"fetch_req":                  func() codec { return new(FetchReq) },
	"find_ans":                   func() codec { return new(FindAns) },
	"find_kind_data":             func() codec { return new(FindKindData) },
	"find_req":                   func() codec { return new(FindReq) },
	"forwarding_header":          func() codec { return new(ForwardingHeader) },
	"ice_candidate_relay":        func() codec { return new(IceCandidate) },
	"ice_extension":              func() codec { return new(IceExtension) },
	"ip_address_port_unknown":    func() codec { return new(IPAddressPort) },
	"ip_address_port_v4":         func() codec { return new(IPAddressPort) },
	"ip_address_port_v6":         func() codec { return new(IPAddressPort) },
	"join_ans":                   func() codec { return new(JoinAns) },
	"join_req":                   func() codec { return new(JoinReq) },
	"leave_ans":                  func() codec { return new(LeaveAns) },
	"leave_req":                  func() codec { return new(LeaveReq) },
	"message_ping":               func() codec { return new(Message) },
	"meta_data":                  func() codec { return new(MetaData) },
	"path_track_ans":             func() codec { return new(PathTrackAns) },
	"path_track_req":             func() codec { return new(PathTrackReq) },
	"ping_ans":                   func() codec { return new(PingAns) },
	"ping_req":                   func() codec { return new(PingReq) },
	"probe_ans":                  func() codec { return new(ProbeAns) },
	"probe_information":          func() codec { return new(ProbeInformation) },
	"probe_req":                  func() codec { return new(ProbeReq) },
	"resource_name_extension":    func() codec { return new(ResourceNameExtension) },
	"route_query_req":            func() codec { return new(RouteQueryReq) },
	"self_tuning_data":           func() codec { return new(SelfTuningData) },
	"sip_registration_route":     func() codec { return new(SipRegistration) },
	"sip_registration_unknown":   func() codec { return new(SipRegistration) },
	"sip_registration_uri":       func() codec { return new(SipRegistration) },
	"stat_ans":                   func() codec { return new(StatAns) },
	"stat_kind_response":         func() codec { return new(StatKindResponse) },
	"stat_req":                   func() codec { return new(StatReq) },
	"store_ans":                  func() codec { return new(StoreAns) },
	"store_kind_data":            func() codec { return new(StoreKindData) },
	"store_kind_response":        func() codec { return new(StoreKindResponse) },
	"store_req":                  func() codec { return new(StoreReq) },
	"store_req_unknown_kind":     func() codec { return new(StoreReq) },
	"stored_data":                func() codec { return new(sdAs[tagSingle]) },
	"stored_data_specifier":      func() codec { return new(StoredDataSpecifier) },
	"stored_meta_data":           func() codec { return new(smdAs[tagArray]) },
	"turn_server":                func() codec { return new(TurnServer) },
	"update_ans":                 func() codec { return new(UpdateAns) },
}

// vectorJSON is one entry of vectors.json.
type vectorJSON struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	RFC         []string `json:"rfc"`
	Structure   string   `json:"structure,omitempty"`
	Length      int      `json:"length"`
	Hex         string   `json:"hex"`
	Decoded     any      `json:"decoded,omitempty"`
}

var rfcRef = regexp.MustCompile(`RFC \d{4}(?: ?§[0-9.]*[0-9](?:(?:,| and) §[0-9.]*[0-9])*)?`)

// TestVectorsJSON keeps testdata/vectors/vectors.json, the golden vectors
// in one language-neutral file for other implementations, in step with
// the .hex files: name, description and RFC sections from each file's
// comments, the bytes, and the fields our codec decodes from them
// (byte strings as hex, code points as numbers). Run with -update after
// changing a vector.
func TestVectorsJSON(t *testing.T) {
	dir := filepath.Join("..", "testdata", "vectors")
	files, err := filepath.Glob(filepath.Join(dir, "*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	sort.Strings(files)
	var out []vectorJSON
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hex")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var desc []string
		for line := range strings.SplitSeq(string(raw), "\n") {
			if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok {
				desc = append(desc, strings.TrimSpace(c))
			}
		}
		v := vectorJSON{Name: name, Description: strings.Join(desc, " "), RFC: []string{}}
		seen := map[string]bool{}
		for _, r := range rfcRef.FindAllString(v.Description, -1) {
			if !seen[r] {
				seen[r] = true
				v.RFC = append(v.RFC, r)
			}
		}
		b := parseHexVector(t, string(raw))
		v.Length, v.Hex = len(b), hex.EncodeToString(b)
		if mk, ok := vectorTypes[name]; ok {
			c := mk()
			n, err := c.Decode(b)
			if err != nil || n != len(b) {
				t.Fatalf("%s: decoded %d of %d bytes: %v", name, n, len(b), err)
			}
			st := reflect.TypeOf(c).Elem()
			if st.Kind() == reflect.Struct && st.NumField() == 1 && st.Field(0).Anonymous {
				// A test wrapper that fixes the data model: publish
				// the structure it wraps.
				st = st.Field(0).Type
			}
			v.Structure = st.Name()
			v.Decoded = plainJSON(reflect.ValueOf(c))
		}
		out = append(out, v)
	}
	got, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join(dir, "vectors.json")
	if *updateVectorsJSON {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./wire -run TestVectorsJSON -update)", err)
	}
	if string(got) != string(want) {
		t.Fatal("testdata/vectors/vectors.json is out of date: go test ./wire -run TestVectorsJSON -update")
	}
	if len(vectorTypes) < len(out)-1 {
		t.Errorf("%d of %d vectors have no structure named in vectorTypes", len(out)-len(vectorTypes), len(out))
	}
}

// plainJSON turns a decoded structure into values encoding/json writes
// the same in every language's reading: objects of exported fields, byte
// strings and fixed byte arrays as hex, integers as numbers.
func plainJSON(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return plainJSON(v.Elem())
	case reflect.Struct:
		if tm, ok := asTextMarshaler(v); ok {
			// netip.Addr and the like: their text form.
			if b, err := tm.MarshalText(); err == nil {
				return string(b)
			}
		}
		m := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				if inner, ok := plainJSON(v.Field(i)).(map[string]any); ok {
					for k, x := range inner {
						m[k] = x
					}
				}
				continue
			}
			m[f.Name] = plainJSON(v.Field(i))
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Type().Elem() == reflect.TypeFor[byte]() {
			b := make([]byte, v.Len())
			for i := range b {
				b[i] = byte(v.Index(i).Uint())
			}
			return hex.EncodeToString(b)
		}
		l := make([]any, v.Len())
		for i := range l {
			l[i] = plainJSON(v.Index(i))
		}
		return l
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[fmt.Sprint(plainJSON(k))] = plainJSON(v.MapIndex(k))
		}
		return m
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.String:
		return v.String()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return fmt.Sprint(v.Interface())
}

func asTextMarshaler(v reflect.Value) (encoding.TextMarshaler, bool) {
	if !v.CanInterface() {
		return nil, false
	}
	tm, ok := v.Interface().(encoding.TextMarshaler)
	return tm, ok
}
