package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreload/reload/enroll"
	"github.com/goreload/reload/security"
)

// runEnroll implements "reload enroll": fetch the overlay configuration,
// check its signature, get a certificate from the enrollment server (or
// make a self-signed one where the overlay allows it) and write the
// identity.
func runEnroll(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload enroll",
		"reload enroll (--overlay NAME | --server URL) --user U (--password P | --password-file FILE) --out DIR [--ca-cert FILE] [--json]\n\n"+
			"Fetch the overlay configuration from the configuration server, check its\nsignature, obtain a certificate for a new key from the enrollment server\n"+
			"(RFC 6940 §11.3; self-signed where the overlay allows it, §11.3.1) and write\ncert.pem, key.pem and overlay.xml into DIR, ready for 'reload node'.\n\n"+
			"The configuration comes from URL/.well-known/reload-config with --server, or\nelse from the server that DNS names for the overlay: the SRV records of\n"+
			"_reload-config._tcp.NAME, tried in priority and weight order, each asked for\nhttps://NAME/.well-known/reload-config with a certificate for NAME (§11.2).", stderr)
	src := &configSource{serverFlag: "--server"}
	fs.StringVar(&src.server, "server", "", "configuration server base URL, e.g. https://overlay.example.org (default: found by DNS from --overlay)")
	user := fs.String("user", "", "account name (required)")
	password := fs.String("password", "", "account password")
	passwordFile := fs.String("password-file", "", "file holding the account password")
	out := fs.String("out", "", "directory to write cert.pem, key.pem and overlay.xml to (required)")
	fs.StringVar(&src.caCert, "ca-cert", "", "PEM file of the CA to trust for HTTPS (default: system roots)")
	enrollURL := fs.String("enroll-url", "", "enrollment server URL (default: the configuration's first enrollment-server)")
	fs.StringVar(&src.overlay, "overlay", "", "overlay name: without --server, find the configuration server by DNS SRV _reload-config._tcp.NAME; also the instance to enroll in when the document has several (default: the first)")
	fs.StringVar(&src.dnsServer, "dns-server", "", dnsServerHelp)
	serverName := fs.String("server-name", "", "name the servers' certificates must match (default: the URL's host; the overlay name for a server found by DNS)")
	nodeIDs := fs.Int("nodeids", 1, "number of Node-IDs to request")
	algo := fs.String("algo", "ecdsa", "key algorithm: ecdsa (P-256), rsa (2048) or ed25519")
	asJSON := fs.Bool("json", false, "print the overlay, user, Node-IDs and files as JSON")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	switch {
	case src.server == "" && src.overlay == "":
		return usageError(fs, "give --overlay (the configuration server is found by DNS) or --server")
	case *user == "":
		return usageError(fs, "--user is required")
	case *out == "":
		return usageError(fs, "--out is required")
	case *password != "" && *passwordFile != "":
		return usageError(fs, "give --password or --password-file, not both")
	case *nodeIDs < 1:
		return usageError(fs, "--nodeids must be at least 1")
	}
	keyAlg, err := security.ParseKeyAlgorithm(*algo)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	if err := src.check(); err != nil {
		return usageError(fs, "%v", err)
	}
	pw := *password
	if *passwordFile != "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			return failure(stderr, "reload enroll", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	client, err := src.client(*serverName)
	if err != nil {
		return failure(stderr, "reload enroll", err)
	}
	e := enrollJob{
		client: client, src: src, user: *user, password: pw, out: *out,
		enrollURL: *enrollURL, nodeIDs: *nodeIDs, algo: keyAlg, json: *asJSON,
	}
	if err := e.run(context.Background(), time.Now(), stdout); err != nil {
		return failure(stderr, "reload enroll", err)
	}
	return 0
}

type enrollJob struct {
	client                         *enroll.Client
	src                            *configSource
	user, password, out, enrollURL string
	nodeIDs                        int
	algo                           security.KeyAlgorithm
	json                           bool
}

func (e *enrollJob) run(ctx context.Context, now time.Time, stdout io.Writer) error {
	_, conf, raw, err := e.src.fetch(ctx, e.client)
	if err != nil {
		return err
	}
	if _, err := conf.VerifySignature(nil, now); err != nil {
		return fmt.Errorf("configuration of %s: %w", conf.InstanceName, err)
	}
	key, err := security.GenerateKey(e.algo)
	if err != nil {
		return err
	}
	var id *security.Identity
	if conf.SelfSignedPermitted && len(conf.EnrollmentServers) == 0 && e.enrollURL == "" {
		user := e.user
		if !strings.Contains(user, "@") {
			user += "@" + conf.InstanceName
		}
		trust, err := conf.Trust()
		if err != nil {
			return err
		}
		der, _, err := security.CreateSelfSigned(key, user, conf.InstanceName, trust.SelfSignedDigest, e.nodeIDs, conf.NodeIDLength,
			now.Add(-5*time.Minute), now.AddDate(1, 0, 0))
		if err != nil {
			return err
		}
		if id, err = security.NewIdentity(key, [][]byte{der}); err != nil {
			return err
		}
	} else {
		id, err = e.client.EnrollIdentity(ctx, conf, e.enrollURL, e.user, e.password, e.nodeIDs, key, now)
		var refusal *enroll.Error
		if errors.As(err, &refusal) && refusal.Token != "" {
			return fmt.Errorf("the enrollment server refused: %s", refusal.Token)
		}
		if errors.As(err, &refusal) && refusal.Status == http.StatusTooManyRequests {
			when := "later"
			if refusal.RetryAfter > 0 {
				when = fmt.Sprintf("in %v (at %s)", refusal.RetryAfter, time.Now().Add(refusal.RetryAfter).Format("15:04:05"))
			}
			return hint(errors.New("the enrollment server refused: too many failed attempts for this account or from this address"),
				"check the user name and password, and retry "+when)
		}
		if err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(e.out, fileKey)); err == nil {
		return hint(fmt.Errorf("%s already holds an identity", e.out), "choose another --out")
	}
	if err := writeIdentity(e.out, id); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(e.out, fileConfig), raw, 0o644); err != nil {
		return err
	}
	ids := make([]string, len(id.Cert.NodeIDs))
	for i, n := range id.Cert.NodeIDs {
		ids[i] = n.String()
	}
	if e.json {
		b, err := json.MarshalIndent(map[string]any{
			"overlay": conf.InstanceName, "user": id.Cert.User, "node_ids": ids, "dir": e.out,
			"cert": filepath.Join(e.out, fileCert), "key": filepath.Join(e.out, fileKey), "config": filepath.Join(e.out, fileConfig),
		}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "enrolled in %s as %s\n  node-id  %s\n  files    %s\n", conf.InstanceName, id.Cert.User,
		strings.Join(ids, ", "), e.out)
	return nil
}
