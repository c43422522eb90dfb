package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/goreload/reload/config"
)

// overlaySign implements "reload overlay sign": after the operator edits
// the configuration document, raise its sequence and sign it again with
// the overlay's configuration signer (RFC 6940 §11.1), so that running
// nodes take it as a ConfigUpdate (§6.5.4).
func overlaySign(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload overlay sign", "reload overlay sign --dir DIR [--config FILE] [--out FILE]\n\n"+
		"Raise the sequence of the overlay's configuration document and sign it again with\n"+
		"the configuration signer of DIR (DIR/signer, made by \"reload overlay init\"), after\n"+
		"you have edited it. Kinds are signed again too. The document is checked as a\n"+
		"ConfigUpdate would be (RFC 6940 §6.5.4): newer, signed by a configuration-signer\n"+
		"of the previous one, and small enough for max-message-size. Then hand it to one\n"+
		"running node with \"reload overlay push\"; it spreads to every peer.", stderr)
	dir := fs.String("dir", "", "overlay directory made by \"reload overlay init\" (required)")
	in := fs.String("config", "", "the edited document (default: DIR/overlay.xml)")
	out := fs.String("out", "", "where to write the signed document (default: the --config file)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *dir == "" {
		return usageError(fs, "--dir is required")
	}
	if *in == "" {
		*in = filepath.Join(*dir, fileConfig)
	}
	if *out == "" {
		*out = *in
	}
	seq, size, err := signOverlayDocument(*dir, *in, *out, time.Now())
	if err != nil {
		return failure(stderr, "reload overlay sign", err)
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"config": *out, "sequence": seq, "bytes": size})
		printJSON(stdout, b)
		return exitOK
	}
	fmt.Fprintf(stdout, "signed %s: sequence %d, %d bytes\n", *out, seq, size)
	return exitOK
}

// signOverlayDocument reads the document at in, raises the sequence of
// its last configuration, signs its kinds and the configuration with the
// signer of dir, checks the result as a ConfigUpdate against the
// document as it was, and writes it to out.
func signOverlayDocument(dir, in, out string, now time.Time) (uint16, int, error) {
	doc, raw, err := readConfig(in)
	if err != nil {
		return 0, 0, err
	}
	prev, err := config.Parse(raw)
	if err != nil {
		return 0, 0, err
	}
	signer, err := readIdentity(filepath.Join(dir, dirSigner))
	if err != nil {
		return 0, 0, hint(err, "--dir names the directory made by 'reload overlay init', which holds the configuration signer in signer/")
	}
	c := doc.Configurations[len(doc.Configurations)-1]
	old := prev.Configurations[len(prev.Configurations)-1]
	if !c.IsConfigurationSigner(signer.NodeID()) {
		return 0, 0, fmt.Errorf("%v is not a configuration-signer of %s", signer.NodeID(), in)
	}
	c.Sequence = config.NextSequence(old.Sequence)
	if c.IsKindSigner(signer.NodeID()) {
		for i := range c.RequiredKinds {
			if err := doc.SignKind(c, &c.RequiredKinds[i], signer, ""); err != nil {
				return 0, 0, err
			}
		}
	}
	alg := ""
	if len(old.Signatures) > 0 {
		alg = old.Signatures[0].Algorithm
	}
	if err := doc.Sign(c, signer, alg); err != nil {
		return 0, 0, fmt.Errorf("signing: %w", err)
	}
	signed, err := doc.Marshal()
	if err != nil {
		return 0, 0, err
	}
	// What every running node will check (§6.5.4.2), checked here first.
	if _, _, err := config.AcceptConfigUpdate(old, signed, now); err != nil {
		return 0, 0, fmt.Errorf("the signed document would be refused as a ConfigUpdate: %w", err)
	}
	if err := old.CheckUpdateSize(len(signed)); err != nil {
		return 0, 0, hint(err, "the peers still hold the current max-message-size; give them the new document directly")
	}
	if err := c.CheckUpdateSize(len(signed)); err != nil {
		return 0, 0, err
	}
	if bytes.Equal(signed, raw) {
		return 0, 0, fmt.Errorf("nothing changed")
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, signed, 0o644); err != nil {
		return 0, 0, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, 0, err
	}
	return c.Sequence, len(signed), nil
}

// overlayPush implements "reload overlay push": hand a signed
// configuration document to one running node, which checks it and pushes
// it to its neighbours in ConfigUpdate requests (RFC 6940 §6.5.4).
func overlayPush(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload overlay push", "reload overlay push [flags] FILE\n\n"+
		"Hand the signed configuration document FILE (made by \"reload overlay sign\") to a\n"+
		"running node through its control API. The node checks it as a ConfigUpdate\n"+
		"(RFC 6940 §6.5.4: newer sequence, signed by a configuration-signer of the\n"+
		"configuration in force, within max-message-size), takes it, and sends it to its\n"+
		"neighbours, from which it spreads to every peer of the overlay. Nodes keep it in\n"+
		"memory: also replace the file that 'reload node --config' reads, for restarts.", stderr)
	ctl := addControlFlags(fs, "control API address of the node to hand it to")
	asJSON := fs.Bool("json", false, "print JSON")
	if code := parseArgs(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return usageError(fs, "give the document FILE")
	}
	doc, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return failure(stderr, "reload overlay push", err)
	}
	var raw json.RawMessage
	if err := newControl(*ctl).do("POST", "/config", nil, doc, &raw); err != nil {
		return failure(stderr, "reload overlay push", err)
	}
	if *asJSON {
		printJSON(stdout, raw)
		return exitOK
	}
	var r struct {
		Overlay  string `json:"overlay"`
		Sequence uint16 `json:"sequence"`
	}
	_ = json.Unmarshal(raw, &r)
	fmt.Fprintf(stdout, "%s: the node took sequence %d and is sending it to its neighbours\n", r.Overlay, r.Sequence)
	return exitOK
}
