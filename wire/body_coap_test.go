package wire

import (
	"bytes"
	"testing"
)

// Golden vectors built by hand from RFC 7650 §7 and §8.1 (Node-IDs of 16
// bytes; unbounded opaque fields with a 16-bit length).
const (
	coapRegistrationHex = "0102030405060708090a0b0c0d0e0f10 000e 3c2f73656e736f72732f742d313e"
	coapSensorCacheHex  = "02 0102030405060708090a0b0c0d0e0f10 0004 74656d70" +
		" 00000017 00000001 000003e8 0003 32312e" +
		" 00000002 000007d0 0000"
	coapProxyCacheHex = "01 0102030405060708090a0b0c0d0e0f10 00000019" +
		" 0003 2f732f 0002 6c78 0000000c 0000000a 00000064 0002 3432"
)

func wantCoAPRegistration() *CoAPRegistration {
	return &CoAPRegistration{NodeID: MustNodeID(diagNodeA), URIs: []byte("</sensors/t-1>")}
}

func wantCoAPSensorCache() *CoAPCaching {
	return &CoAPCaching{Type: CoAPSensorCache, NodeID: MustNodeID(diagNodeA), DevInfo: []byte("temp"),
		Values: []SensorValue{{MeasurementTime: 1, Lifetime: 1000, Value: []byte("21.")}, {MeasurementTime: 2, Lifetime: 2000, Value: []byte{}}}}
}

func wantCoAPProxyCache() *CoAPCaching {
	return &CoAPCaching{Type: CoAPProxyCache, NodeID: MustNodeID(diagNodeA), Sensors: []SensorEntry{
		{URI: []byte("/s/"), DevInfo: []byte("lx"), Values: []SensorValue{{MeasurementTime: 10, Lifetime: 100, Value: []byte("42")}}},
	}}
}

func TestDecodeCoAPRegistration(t *testing.T) {
	vec := usageHex(t, coapRegistrationHex)
	var got CoAPRegistration
	if n, err := got.Decode(vec); err != nil || n != len(vec) {
		t.Fatalf("Decode = %d, %v", n, err)
	}
	if !equalish(&got, wantCoAPRegistration()) {
		t.Fatalf("got %+v", got)
	}
	checkTruncated[CoAPRegistration](t, vec)
}

func TestAppendCoAPRegistration(t *testing.T) {
	w := wantCoAPRegistration()
	b, err := w.Append(nil)
	if err != nil || !bytes.Equal(b, usageHex(t, coapRegistrationHex)) || len(b) != w.Len() {
		t.Fatalf("Append = %x, %v", b, err)
	}
	if _, err := (&CoAPRegistration{URIs: []byte("x")}).Append(nil); err == nil {
		t.Fatal("zero Node-ID appended")
	}
	if _, err := (&CoAPRegistration{NodeID: MustNodeID(diagNodeA), URIs: make([]byte, 0x10000)}).Append(nil); err == nil {
		t.Fatal("oversized coap_uris appended")
	}
}

func TestDecodeCoAPCaching(t *testing.T) {
	for _, tc := range []struct {
		name string
		hex  string
		want *CoAPCaching
	}{
		{"sensor_cache", coapSensorCacheHex, wantCoAPSensorCache()},
		{"proxy_cache", coapProxyCacheHex, wantCoAPProxyCache()},
		{"unknown", "07 abcd", &CoAPCaching{Type: 7, Raw: []byte{0xab, 0xcd}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vec := usageHex(t, tc.hex)
			var got CoAPCaching
			if n, err := got.Decode(vec); err != nil || n != len(vec) {
				t.Fatalf("Decode = %d, %v", n, err)
			}
			if !equalish(&got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, *tc.want)
			}
			b, err := tc.want.Append(nil)
			if err != nil || !bytes.Equal(b, vec) || len(b) != tc.want.Len() {
				t.Fatalf("Append = %x, %v; want %x", b, err, vec)
			}
			if tc.want.Type != 7 {
				checkTruncated[CoAPCaching](t, vec)
			}
			c := got.Clone()
			if !equalish(&c, &got) {
				t.Fatal("Clone differs")
			}
		})
	}
}

func TestDecodeCoAPCachingMalformed(t *testing.T) {
	usageCheckMalformed[CoAPCaching](t, []usageMalformed{
		{"trailing", usageCat(usageHex(t, coapSensorCacheHex), []byte{0}), ErrTrailingData, "CoAPCaching"},
		{"value past its list", usageHex(t, "02 0102030405060708090a0b0c0d0e0f10 0000 0000000b 00000001 00000002 0002 41"), ErrTruncated, "SensorCache.sensor_value[0].SensorValue.value"},
		{"entry past its list", usageHex(t, "01 0102030405060708090a0b0c0d0e0f10 00000003 0001 41"), ErrTruncated, "ProxyCache.sensors[0].SensorEntry.sensor_info.dev_info"},
	})
	usageCheckMalformed[CoAPRegistration](t, []usageMalformed{
		{"trailing", usageCat(usageHex(t, coapRegistrationHex), []byte{0}), ErrTrailingData, "CoAPRegistration"},
	})
}

func FuzzDecodeCoAPRegistration(f *testing.F) {
	f.Add(usageHex(f, coapRegistrationHex))
	f.Fuzz(func(t *testing.T, b []byte) {
		v := usageCheckCanonical[CoAPRegistration](t, b)
		if v == nil {
			return
		}
		if v.Len() != len(b) || !v.NodeID.Valid() {
			t.Fatalf("decoded %+v from %d bytes", v, len(b))
		}
		c := v.Clone()
		if !equalish(&c, v) {
			t.Fatal("Clone differs")
		}
	})
}

func FuzzDecodeCoAPCaching(f *testing.F) {
	for _, h := range []string{coapSensorCacheHex, coapProxyCacheHex, "07 abcd"} {
		f.Add(usageHex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := usageCheckCanonical[CoAPCaching](t, b)
		if v == nil {
			return
		}
		if v.Len() != len(b) {
			t.Fatalf("Len %d for %d bytes", v.Len(), len(b))
		}
		switch v.Type {
		case CoAPProxyCache, CoAPSensorCache:
			if v.Raw != nil || !v.NodeID.Valid() {
				t.Fatal("known type with raw bytes or no Node-ID")
			}
		default:
			if len(v.Sensors)+len(v.Values) != 0 || v.DevInfo != nil {
				t.Fatal("unknown type filled known fields")
			}
		}
		c := v.Clone()
		if !equalish(&c, v) {
			t.Fatal("Clone differs")
		}
	})
}
