package node

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The control API acts as the node, so ControlHandler guards it: a token
// on every request, and nothing that a browser sends for a page of
// another origin (RFC 6940 §13: the node's key signs what it stores).
func TestControlHandlerGuards(t *testing.T) {
	c := startCluster(t, 1, nil)
	n := c.nodes[0]
	const token = "0123456789abcdef0123456789abcdef"
	srv := httptest.NewServer(n.ControlHandler(ControlOptions{Token: token}))
	defer srv.Close()
	open := httptest.NewServer(n.ControlHandler(ControlOptions{}))
	defer open.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := net.SplitHostPort(host)
	store := "/store?resource=node1@test.example.org&kind=SIP-REGISTRATION"
	for _, tc := range []struct {
		name, url, method, path string
		hdr                     map[string]string
		want                    int
	}{
		{"token", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token}, http.StatusOK},
		{"token, scheme in lower case", srv.URL, "GET", "/status", map[string]string{"Authorization": "bearer " + token}, http.StatusOK},
		{"token, localhost", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token, "Host": "localhost:" + port}, http.StatusOK},
		{"token, same origin", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token, "Origin": srv.URL}, http.StatusOK},
		{"no token", srv.URL, "GET", "/status", nil, http.StatusUnauthorized},
		{"no token, metrics", srv.URL, "GET", "/metrics", nil, http.StatusUnauthorized},
		{"wrong token", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token + "0"}, http.StatusUnauthorized},
		{"token prefix", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token[:31]}, http.StatusUnauthorized},
		{"empty token configured", open.URL, "GET", "/status", map[string]string{"Authorization": "Bearer "}, http.StatusUnauthorized},
		{"browser simple request", srv.URL, "POST", store, map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", srv.URL, "POST", store, map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"rebinding Host", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token, "Host": "evil.example:" + port}, http.StatusForbidden},
		{"Host of another port", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token, "Host": "127.0.0.1:1"}, http.StatusForbidden},
		{"Host without port", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token, "Host": "127.0.0.1"}, http.StatusForbidden},
		{"non-loopback Host", srv.URL, "GET", "/status", map[string]string{"Authorization": "Bearer " + token, "Host": "192.0.2.1:" + port}, http.StatusForbidden},
		{"preflight", srv.URL, "OPTIONS", store, map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url+tc.path, strings.NewReader("sip:evil@evil.example"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.hdr {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
			if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("CORS header %s in the answer", k)
				}
			}
		})
	}
}
