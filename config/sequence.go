package config

import (
	"fmt"
	"time"

	"github.com/goreload/reload/wire"
)

// SequenceUpdate is the configuration_sequence value that a ConfigUpdate
// request may carry to be accepted whatever the receiver's sequence
// (RFC 6940 §6.3.2.1).
const SequenceUpdate uint16 = 65535

// sequenceModulus: sequence numbers run 0..65534 and wrap (65535 is
// special).
const sequenceModulus = 65535

// CompareSequence orders configuration sequence numbers modulo 65535 as
// TCP orders its sequence numbers (RFC 6940 §6.3.2.1): -1 when a is
// older than b, +1 when newer, 0 when equal. b is newer than a when it is
// ahead by less than half the space.
func CompareSequence(a, b uint16) int {
	d := (int(b) - int(a)) % sequenceModulus
	if d < 0 {
		d += sequenceModulus
	}
	switch {
	case d == 0:
		return 0
	case d <= sequenceModulus/2:
		return -1
	}
	return 1
}

// NextSequence is the sequence number of the next configuration: s+1,
// wrapping from 65534 to 0 (RFC 6940 §6.3.2.1).
func NextSequence(s uint16) uint16 {
	if s >= sequenceModulus-1 {
		return 0
	}
	return s + 1
}

// CheckSequence applies RFC 6940 §6.3.2.1 at a request's destination:
// local is this node's configuration sequence, received the request's
// configuration_sequence and code its message code. It returns nil when
// they match, or when received is 65535 on a ConfigUpdate request;
// otherwise a *wire.ProtocolError with Error_Config_Too_Old (the
// requester's configuration is older: sendUpdate is then true, and the
// node must send it a ConfigUpdate) or Error_Config_Too_New.
func CheckSequence(local, received uint16, code wire.MessageCode) (sendUpdate bool, err error) {
	if received == local || received == SequenceUpdate && code == wire.CodeConfigUpdateReq {
		return false, nil
	}
	if CompareSequence(received, local) < 0 {
		return true, &wire.ProtocolError{Code: wire.ErrCodeConfigTooOld,
			Err: fmt.Errorf("config: request sequence %d, local %d", received, local)}
	}
	return false, &wire.ProtocolError{Code: wire.ErrCodeConfigTooNew,
		Err: fmt.Errorf("config: request sequence %d, local %d", received, local)}
}

// AcceptConfigUpdate applies RFC 6940 §6.5.4.2 to the config_data of a
// ConfigUpdate request of type config: the document must parse, hold a
// configuration for current's overlay whose sequence number is newer
// than current's, and be signed by a configuration-signer of current.
// It returns the new document and configuration. Errors are
// *wire.ProtocolError: Error_Invalid_Message for an unparsable document,
// Error_Incompatible_with_Overlay when it has no configuration for this
// overlay, Error_Config_Too_Old when it is not newer, Error_Forbidden
// when the signature fails.
func AcceptConfigUpdate(current *Configuration, configData []byte, now time.Time) (*Document, *Configuration, error) {
	doc, err := Parse(configData)
	if err != nil {
		return nil, nil, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Info: []byte("bad configuration document"), Err: err}
	}
	c := doc.Configuration(current.InstanceName)
	if c == nil {
		return nil, nil, &wire.ProtocolError{Code: wire.ErrCodeIncompatibleWithOverlay,
			Err: fmt.Errorf("config: no configuration for %q", current.InstanceName)}
	}
	if CompareSequence(c.Sequence, current.Sequence) <= 0 {
		return nil, nil, &wire.ProtocolError{Code: wire.ErrCodeConfigTooOld,
			Err: fmt.Errorf("config: update has sequence %d, current is %d", c.Sequence, current.Sequence)}
	}
	if _, err := c.VerifySignature(current, now); err != nil {
		return nil, nil, err
	}
	return doc, c, nil
}

// AcceptKindUpdate applies RFC 6940 §6.5.4.2 to the kinds of a
// ConfigUpdate request of type kind: each KindDescription is a
// kind-block (default namespace config-base) that must be signed by a
// kind-signer of current, and must not redefine a Kind of known that was
// signed by a different signer. It returns known with the new Kinds
// added. Failures are *wire.ProtocolError with Error_Forbidden (or
// Error_Invalid_Message when a block does not parse, Error_Unknown_Kind
// for an unknown kind name).
func AcceptKindUpdate(current *Configuration, known Kinds, descriptions [][]byte, now time.Time) (Kinds, error) {
	for i, desc := range descriptions {
		kb, err := ParseKindBlock(desc)
		if err != nil {
			return known, &wire.ProtocolError{Code: wire.ErrCodeInvalidMessage, Err: fmt.Errorf("kind %d: %w", i, err)}
		}
		s, err := current.VerifyKindSignature(&kb, now)
		if err != nil {
			return known, err
		}
		info, err := kb.Kind.Info()
		if err != nil {
			return known, err
		}
		info.Signer = s.NodeID
		if old, ok := known.Lookup(info.ID); ok && !old.Signer.IsZero() && old.Signer != s.NodeID {
			return known, &wire.ProtocolError{Code: wire.ErrCodeForbidden,
				Err: fmt.Errorf("config: kind %d already defined by signer %v", info.ID, old.Signer)}
		}
		known = known.With(info)
	}
	return known, nil
}

// VerifiedKinds is Kinds with every kind-signature checked against c's
// kind-signers; each KindInfo records its signer.
func (c *Configuration) VerifiedKinds(now time.Time) (Kinds, error) {
	infos := make([]KindInfo, 0, len(c.RequiredKinds))
	for i := range c.RequiredKinds {
		kb := &c.RequiredKinds[i]
		s, err := c.VerifyKindSignature(kb, now)
		if err != nil {
			return Kinds{}, fmt.Errorf("config: kind-block %d: %w", i, err)
		}
		info, err := kb.Kind.Info()
		if err != nil {
			return Kinds{}, err
		}
		info.Signer = s.NodeID
		infos = append(infos, info)
	}
	return NewKinds(infos...), nil
}
