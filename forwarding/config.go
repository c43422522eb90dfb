package forwarding

import (
	"context"
	"errors"
	"fmt"

	"github.com/goreload/reload/config"
	"github.com/goreload/reload/wire"
)

// handleConfigUpdate applies a ConfigUpdate (§6.5.4.2): a newer, correctly
// signed configuration document, or kinds signed by a kind-signer. A new
// configuration is then pushed to the other neighbours.
func (e *Engine) handleConfigUpdate(ctx context.Context, req *Incoming) ([]byte, error) {
	var cu wire.ConfigUpdateReq
	if _, err := cu.Decode(req.Body); err != nil {
		return nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("malformed config update"), Err: err}
	}
	now := e.clock.Now()
	var err error
	ok := e.call(ctx, func() {
		switch cu.Type {
		case wire.ConfigUpdateConfig:
			var nc *config.Configuration
			if _, nc, err = config.AcceptConfigUpdate(e.cfg, cu.ConfigData, now); err != nil {
				attrs := []any{"from", req.Signer.NodeID.String(), "err", err}
				if pe := (*wire.ProtocolError)(nil); errors.As(err, &pe) && pe.Code == wire.ErrCodeConfigTooOld {
					// A neighbour pushing what this node has.
					e.log.Debug("ConfigUpdate refused", attrs...)
				} else if skipped, ok := e.warnRefused.allow(now); ok {
					e.log.Warn("ConfigUpdate refused", append(attrs, "not_logged_before", skipped)...)
				}
				return
			}
			e.applyConfig(nc, clone(cu.ConfigData))
			e.log.Info("configuration updated by ConfigUpdate", "sequence", nc.Sequence, "from", req.Signer.NodeID.String())
			e.pushConfig(req.Signer.NodeID)
		case wire.ConfigUpdateKind:
			var k config.Kinds
			if k, err = config.AcceptKindUpdate(e.cfg, e.kinds, cu.Kinds, now); err != nil {
				if skipped, ok := e.warnRefused.allow(now); ok {
					e.log.Warn("kind ConfigUpdate refused", "from", req.Signer.NodeID.String(), "err", err, "not_logged_before", skipped)
				}
				return
			}
			e.kinds = k
			if e.opts.OnKinds != nil {
				e.opts.OnKinds(k)
			}
		default:
			err = &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("unknown config update type")}
		}
	})
	if !ok {
		return nil, ErrNoAnswer
	}
	if err != nil {
		return nil, err
	}
	return (&wire.ConfigUpdateAns{}).Append(nil)
}

// configState is a configuration and the signed document that holds it.
type configState struct {
	cfg *config.Configuration
	doc []byte
}

// Configuration is the configuration in force and the signed document
// that holds it (nil when none was given): the one the engine started
// with, or the last one a ConfigUpdate or UpdateConfig installed.
func (e *Engine) Configuration() (*config.Configuration, []byte) {
	c := e.current.Load()
	return c.cfg, c.doc
}

// UpdateConfig installs a new configuration document given by the
// operator (a configuration re-signed with a higher sequence) and pushes
// it in ConfigUpdate requests to every neighbour, from which it spreads
// over the overlay (§6.5.4). The document must pass the checks a
// ConfigUpdate would (§6.5.4.2: a configuration for this overlay with a
// newer sequence, signed by a configuration-signer of the configuration
// in force; *wire.ProtocolError otherwise), and a ConfigUpdate carrying
// it must fit the max-message-size of both configurations, since the
// peers still hold the old one (config.ErrDocumentTooLarge). It returns
// the new configuration.
func (e *Engine) UpdateConfig(ctx context.Context, doc []byte) (*config.Configuration, error) {
	now := e.clock.Now()
	var nc *config.Configuration
	var err error
	if !e.call(ctx, func() {
		if _, nc, err = config.AcceptConfigUpdate(e.cfg, doc, now); err != nil {
			return
		}
		if err = e.cfg.CheckUpdateSize(len(doc)); err != nil {
			err = fmt.Errorf("the peers' configuration: %w", err)
			return
		}
		if err = nc.CheckUpdateSize(len(doc)); err != nil {
			return
		}
		e.applyConfig(nc, clone(doc))
		e.log.Info("configuration updated by the operator", "sequence", nc.Sequence)
		e.pushConfig(wire.NodeID{})
	}) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return nc, nil
}

// applyConfig switches to a new configuration (on the loop goroutine).
func (e *Engine) applyConfig(c *config.Configuration, doc []byte) {
	e.cfg, e.cfgDoc = c, doc
	e.current.Store(&configState{c, doc})
	clear(e.pushed)
	e.local = e.localFor(c)
	e.setLocal()
	e.core.SetLocal(e.local)
	e.tx.SetLocal(e.local)
	e.tx.SetTimer(c.OverlayReliabilityTimer)
	if k, err := c.Kinds(); err == nil {
		e.kinds = k
	}
	if e.opts.OnConfig != nil {
		e.opts.OnConfig(c)
	}
}

// pushConfig sends the configuration in force to every neighbour but
// except, once each (§6.5.4: ConfigUpdate pushes updated configuration
// data across the overlay). A neighbour that already has it answers
// Error_Config_Too_Old, and pushes nothing further, so a new
// configuration crosses each link about once.
func (e *Engine) pushConfig(except wire.NodeID) {
	for _, id := range e.table.Neighbors() {
		if id != except {
			e.pushConfigTo(id)
		}
	}
}

// pushConfigTo sends the configuration in force to id unless it was
// already pushed to it.
func (e *Engine) pushConfigTo(id wire.NodeID) {
	if id.IsZero() || id == e.Self() {
		return
	}
	if seq, ok := e.pushed[id]; ok && seq == e.cfg.Sequence {
		return
	}
	e.pushed[id] = e.cfg.Sequence
	e.sendConfigUpdate([]wire.Destination{wire.NodeDest(&id)})
}

// sendConfigUpdate sends this node's configuration document to a node
// whose request carried an older sequence number (§6.3.2.1, §6.5.4), with
// configuration_sequence 65535 so that it is accepted whatever the
// receiver's sequence. It runs on the loop goroutine and does not wait for
// the answer. A ConfigUpdate that cannot be sent (too large for
// max-message-size, no route) is logged at Warn.
func (e *Engine) sendConfigUpdate(path []wire.Destination) {
	if len(e.cfgDoc) == 0 {
		return
	}
	to := path[len(path)-1].String()
	cu := wire.ConfigUpdateReq{Type: wire.ConfigUpdateConfig, ConfigData: e.cfgDoc}
	body, err := cu.Append(nil)
	if err != nil {
		e.log.Warn("ConfigUpdate not built", "to", to, "err", err)
		return
	}
	txid, msg, err := e.tx.StartWith(path, wire.CodeConfigUpdateReq, body, RequestOptions{SequenceUpdate: true}, 0, e.clock.Now())
	if err != nil {
		e.log.Warn("ConfigUpdate not built", "to", to, "err", err)
		return
	}
	if err := e.originate(msg); err != nil {
		e.tx.Cancel(txid)
		e.stats.sent(wire.CodeConfigUpdateReq, resultDropped)
		e.log.Warn("ConfigUpdate not sent", "to", to, "sequence", e.cfg.Sequence, "document_bytes", len(e.cfgDoc),
			"message_bytes", len(msg), "max_message_size", e.local.MaxMessageSize, "err", err)
		return
	}
	e.stats.sent(wire.CodeConfigUpdateReq, resultOK)
}
