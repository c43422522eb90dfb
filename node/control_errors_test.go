package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/goreload/reload/forwarding"
	"github.com/goreload/reload/wire"
)

// The control API shows the RELOAD error code of a failed request whoever
// chose it: this node (*wire.ProtocolError), the peer that answered
// (*wire.RemoteError), or the request timer (forwarding.ErrRequestTimeout,
// shown as Error_Request_Timeout).
func TestControlErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code, info string
	}{
		{&wire.ProtocolError{Code: wire.ErrCodeUnknownKind, Info: []byte("kind 99")}, "Error_Unknown_Kind", "kind 99"},
		{fmt.Errorf("fetch: %w", &wire.RemoteError{Code: wire.ErrCodeNotFound, Info: []byte("gone")}), "Error_Not_Found", "gone"},
		{forwarding.ErrRequestTimeout, "Error_Request_Timeout", ""},
		{errors.New("no route"), "", ""},
	} {
		w := httptest.NewRecorder()
		writeErr(w, tc.err)
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusBadGateway || body["code"] != tc.code || body["info"] != tc.info || body["error"] != tc.err.Error() {
			t.Errorf("%v: %d %v, want code %q info %q", tc.err, w.Code, body, tc.code, tc.info)
		}
	}
}
