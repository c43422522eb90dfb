package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/security"
)

// maxResponse bounds a configuration document or certificate download.
const maxResponse = 4 << 20

// Client fetches configurations and enrolls over HTTPS.
type Client struct {
	HTTP *http.Client
	// DNSServer, when set (host:port), is the DNS server that
	// DiscoverConfig asks for configuration servers and their
	// addresses, instead of the system's resolver.
	DNSServer string
}

// NewClient returns a client that trusts roots (nil: the system roots).
// When serverName is set, the servers' certificates must match it instead
// of the URL's host (RFC 6940 §11.2–11.3 match them to the overlay name).
func NewClient(roots *x509.CertPool, serverName string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
	return &Client{HTTP: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// ConfigURL is the configuration URL for a server: base itself when it
// has a path, else base + /.well-known/reload-config (RFC 6940 §11.2).
func ConfigURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("enroll: %q is not an https URL", base)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = config.WellKnownPath
	}
	return u.String(), nil
}

// FetchConfig GETs the configuration document from base (see ConfigURL)
// and parses it. It returns the document and its bytes. It does not
// check signatures.
func (c *Client) FetchConfig(ctx context.Context, base string) (*config.Document, []byte, error) {
	u, err := ConfigURL(base)
	if err != nil {
		return nil, nil, err
	}
	return fetchConfigFrom(ctx, c.HTTP, u)
}

// fetchConfigFrom GETs the configuration document at u with hc.
func fetchConfigFrom(ctx context.Context, hc *http.Client, u string) (*config.Document, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", config.MediaType)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, &Error{Status: resp.StatusCode}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != config.MediaType {
		return nil, nil, fmt.Errorf("enroll: configuration served as %q, want %s", mt, config.MediaType)
	}
	doc, err := config.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	return doc, body, nil
}

// Request is an enrollment request (RFC 6940 §11.3).
type Request struct {
	Username string
	Password string
	NodeIDs  int    // 0 or 1: the "nodeids" parameter is left out
	CSR      []byte // PKCS #10, DER
}

// Enroll POSTs req to the enrollment server URL as multipart/form-data
// and returns the DER certificate. A 403 gives an *Error with the token,
// a 429 (too many failed attempts) one with RetryAfter.
func (c *Client) Enroll(ctx context.Context, enrollURL string, req Request) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("username", req.Username)
	_ = mw.WriteField("password", req.Password)
	if req.NodeIDs > 1 {
		_ = mw.WriteField("nodeids", strconv.Itoa(req.NodeIDs))
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="csr"; filename="csr.der"`)
	h.Set("Content-Type", MediaTypePKCS10)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := part.Write(req.CSR); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, enrollURL, &body)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", mw.FormDataContentType())
	hr.Header.Set("Accept", MediaTypePKIXCert)
	resp, err := c.HTTP.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		switch resp.StatusCode {
		case http.StatusForbidden:
			e.Token = strings.TrimSpace(string(b))
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return nil, e
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != MediaTypePKIXCert {
		return nil, fmt.Errorf("enroll: certificate served as %q, want %s", mt, MediaTypePKIXCert)
	}
	return b, nil
}

// retryAfter is a Retry-After value (RFC 9110 §10.2.3: seconds or an
// HTTP date) as a duration from now; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 1<<32)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// EnrollIdentity enrolls key with the overlay of conf: it makes a CSR,
// POSTs it to enrollURL (conf's first enrollment-server when empty),
// checks that the certificate chains to conf's root-certs and names the
// overlay (RFC 6940 §11.3: "The client MUST check that the returned
// certificate chains back to one of the certificates received in the
// root-cert list"), and returns the identity.
func (c *Client) EnrollIdentity(ctx context.Context, conf *config.Configuration, enrollURL, user, password string, nodeIDs int, key crypto.Signer, now time.Time) (*security.Identity, error) {
	if enrollURL == "" {
		if len(conf.EnrollmentServers) == 0 {
			return nil, fmt.Errorf("enroll: configuration for %q has no enrollment-server", conf.InstanceName)
		}
		enrollURL = conf.EnrollmentServers[0]
	}
	csr, err := security.CreateCSR(key, "")
	if err != nil {
		return nil, err
	}
	der, err := c.Enroll(ctx, enrollURL, Request{Username: user, Password: password, NodeIDs: nodeIDs, CSR: csr})
	if err != nil {
		return nil, err
	}
	trust, err := conf.Trust()
	if err != nil {
		return nil, err
	}
	if _, err := trust.VerifyChainDER([][]byte{der}, now); err != nil {
		return nil, fmt.Errorf("enroll: certificate from %s: %w", enrollURL, err)
	}
	return security.NewIdentity(key, [][]byte{der})
}
