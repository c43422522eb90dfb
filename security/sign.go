package security

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/goreload/reload/wire"
)

// identityBufLen holds an encoded SignerIdentity with a digest of up to
// 64 bytes without allocation.
const identityBufLen = 3 + 2 + 64

// maxDigest is the largest digest of the hash functions a signature
// algorithm may name (SHA-512).
const maxDigest = 64

// smallInput is the longest signature input hashed from a buffer on the
// stack, without the allocations of a streaming hash.
const smallInput = 512

// hashMessageInput hashes overlay || transaction_id || MessageContents ||
// SignerIdentity (RFC 6940 §6.3.4). It is what
// wire.AppendMessageSignatureInput builds.
func hashMessageInput(h crypto.Hash, overlay uint32, txid uint64, contents []byte, sid *wire.SignerIdentity) ([]byte, error) {
	var out [maxDigest]byte
	d, err := hashMessageInputTo(&out, h, overlay, txid, contents, sid)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), d...), nil
}

// hashMessageInputTo is hashMessageInput with the digest written to out.
// A SHA-256 input that fits smallInput (a Ping, an Update, an answer of a
// few hundred bytes) is assembled on the stack and hashed in one call, so
// signing and verifying it allocates nothing beyond the public-key
// operation; others are streamed so the contents are not copied.
func hashMessageInputTo(out *[maxDigest]byte, h crypto.Hash, overlay uint32, txid uint64, contents []byte, sid *wire.SignerIdentity) ([]byte, error) {
	if h == crypto.SHA256 && 12+len(contents)+identityBufLen <= smallInput {
		var buf [smallInput]byte
		b := binary.BigEndian.AppendUint32(buf[:0], overlay)
		b = binary.BigEndian.AppendUint64(b, txid)
		b = append(b, contents...)
		b, err := sid.Append(b)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		return out[:copy(out[:], sum[:])], nil
	}
	var hdr [12]byte
	binary.BigEndian.PutUint32(hdr[:4], overlay)
	binary.BigEndian.PutUint64(hdr[4:], txid)
	var idb [identityBufLen]byte
	enc, err := sid.Append(idb[:0])
	if err != nil {
		return nil, err
	}
	w := h.New()
	w.Write(hdr[:])
	w.Write(contents)
	w.Write(enc)
	return w.Sum(out[:0]), nil
}

// hashDataInput hashes resource_id || kind || storage_time ||
// StoredDataValue || SignerIdentity (RFC 6940 §7.1). resource_id is the
// Resource-ID's bytes as they appear in the ResourceId type's value,
// without the length prefix; value is the encoded StoredDataValue.
func hashDataInput(h crypto.Hash, resourceID []byte, kind uint32, storageTime uint64, value []byte, sid *wire.SignerIdentity) ([]byte, error) {
	var mid [12]byte
	binary.BigEndian.PutUint32(mid[:4], kind)
	binary.BigEndian.PutUint64(mid[4:], storageTime)
	var idb [identityBufLen]byte
	enc, err := sid.Append(idb[:0])
	if err != nil {
		return nil, err
	}
	w := h.New()
	w.Write(resourceID)
	w.Write(mid[:])
	w.Write(value)
	w.Write(enc)
	return w.Sum(nil), nil
}

// hashBlob hashes an opaque blob (a configuration or kind element).
func hashBlob(h crypto.Hash, blob []byte) []byte {
	w := h.New()
	w.Write(blob)
	return w.Sum(nil)
}

// pureEdDSA is the crypto.Hash checkKeyAlg gives for ed25519: the
// signature covers the whole input (RFC 8032 §5.1.6), so the input is
// built, not hashed, and is signed with signPure and checked with
// verifyPure.
const pureEdDSA crypto.Hash = 0

// inputPool holds the buffers the whole signature inputs of ed25519 are
// built in, so that signing or verifying a message does not allocate for
// its input.
var inputPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooledInput is the largest buffer put back in inputPool; one large
// StoredData value should not pin its buffer.
const maxPooledInput = 64 << 10

func getInput() *[]byte { return inputPool.Get().(*[]byte) }

// putInput returns a buffer grown to in to the pool.
func putInput(p *[]byte, in []byte) {
	if cap(in) > maxPooledInput {
		return
	}
	*p = in[:0]
	inputPool.Put(p)
}

// appendDataInput appends resource_id || kind || storage_time ||
// StoredDataValue || SignerIdentity (RFC 6940 §7.1), the input that
// hashDataInput hashes.
func appendDataInput(b, resourceID []byte, kind uint32, storageTime uint64, value []byte, sid *wire.SignerIdentity) ([]byte, error) {
	b = append(b, resourceID...)
	b = binary.BigEndian.AppendUint32(b, kind)
	b = binary.BigEndian.AppendUint64(b, storageTime)
	b = append(b, value...)
	return sid.Append(b)
}

// signMessageInput signs overlay || transaction_id || MessageContents ||
// SignerIdentity (RFC 6940 §6.3.4) with key: a digest made with h, or
// for ed25519 (h is pureEdDSA) the input itself.
func signMessageInput(key crypto.Signer, h crypto.Hash, overlay uint32, txid uint64, contents []byte, sid *wire.SignerIdentity) ([]byte, error) {
	if h == pureEdDSA {
		p := getInput()
		in, err := wire.AppendMessageSignatureInput(*p, overlay, txid, contents, sid)
		if err != nil {
			putInput(p, in)
			return nil, err
		}
		v, err := signPure(key, in)
		putInput(p, in)
		return v, err
	}
	var dbuf [maxDigest]byte
	digest, err := hashMessageInputTo(&dbuf, h, overlay, txid, contents, sid)
	if err != nil {
		return nil, err
	}
	return signDigest(key, h, digest)
}

// verifyMessageInput is the check that matches signMessageInput; the
// error is from encoding sid.
func verifyMessageInput(pub crypto.PublicKey, h crypto.Hash, overlay uint32, txid uint64, contents []byte, sid *wire.SignerIdentity, sig []byte) (bool, error) {
	if h == pureEdDSA {
		p := getInput()
		in, err := wire.AppendMessageSignatureInput(*p, overlay, txid, contents, sid)
		ok := err == nil && verifyPure(pub, in, sig)
		putInput(p, in)
		return ok, err
	}
	var dbuf [maxDigest]byte
	digest, err := hashMessageInputTo(&dbuf, h, overlay, txid, contents, sid)
	if err != nil {
		return false, err
	}
	return verifyDigest(pub, h, digest, sig), nil
}

// signDataInput signs a StoredData signature input (RFC 6940 §7.1) with
// key, as signMessageInput does a message's.
func signDataInput(key crypto.Signer, h crypto.Hash, resourceID []byte, kind uint32, storageTime uint64, value []byte, sid *wire.SignerIdentity) ([]byte, error) {
	if h == pureEdDSA {
		p := getInput()
		in, err := appendDataInput(*p, resourceID, kind, storageTime, value, sid)
		if err != nil {
			putInput(p, in)
			return nil, err
		}
		v, err := signPure(key, in)
		putInput(p, in)
		return v, err
	}
	digest, err := hashDataInput(h, resourceID, kind, storageTime, value, sid)
	if err != nil {
		return nil, err
	}
	return signDigest(key, h, digest)
}

// verifyDataInput is the check that matches signDataInput.
func verifyDataInput(pub crypto.PublicKey, h crypto.Hash, resourceID []byte, kind uint32, storageTime uint64, value []byte, sid *wire.SignerIdentity, sig []byte) (bool, error) {
	if h == pureEdDSA {
		p := getInput()
		in, err := appendDataInput(*p, resourceID, kind, storageTime, value, sid)
		ok := err == nil && verifyPure(pub, in, sig)
		putInput(p, in)
		return ok, err
	}
	digest, err := hashDataInput(h, resourceID, kind, storageTime, value, sid)
	if err != nil {
		return false, err
	}
	return verifyDigest(pub, h, digest, sig), nil
}

// signBlobInput signs an opaque blob (RFC 6940 §11.1): its digest, or for
// ed25519 the blob itself.
func signBlobInput(key crypto.Signer, h crypto.Hash, blob []byte) ([]byte, error) {
	if h == pureEdDSA {
		return signPure(key, blob)
	}
	return signDigest(key, h, hashBlob(h, blob))
}

// verifyBlobInput is the check that matches signBlobInput.
func verifyBlobInput(pub crypto.PublicKey, h crypto.Hash, blob, sig []byte) bool {
	if h == pureEdDSA {
		return verifyPure(pub, blob, sig)
	}
	return verifyDigest(pub, h, hashBlob(h, blob), sig)
}

// SignMessage fills sb with this identity's certificates and the
// signature over overlay || transaction_id || MessageContents ||
// SignerIdentity (RFC 6940 §6.3.4); contents is the encoded
// MessageContents. Certificates already in sb are kept (add the
// certificates StoredData signatures need before or after).
func (id *Identity) SignMessage(sb *wire.SecurityBlock, overlay uint32, txid uint64, contents []byte) error {
	v, err := signMessageInput(id.Key, id.hash, overlay, txid, contents, &id.identity)
	if err != nil {
		return err
	}
	sb.Signature = wire.Signature{Algorithm: id.alg, Identity: id.identity, Value: v}
	if len(sb.Certificates) == 0 {
		sb.Certificates = id.Certificates()
	} else {
		sb.Certificates = appendMissingCerts(sb.Certificates, id.certs)
	}
	return nil
}

// SignData signs one StoredData value (RFC 6940 §7.1): resourceID is the
// Resource-ID bytes, kind the Kind-ID, storageTime the StoredData's
// storage_time and value the encoded StoredDataValue. The returned
// signature goes in the StoredData; the certificates go in the enclosing
// message's SecurityBlock (Certificates).
func (id *Identity) SignData(resourceID []byte, kind uint32, storageTime uint64, value []byte) (wire.Signature, error) {
	v, err := signDataInput(id.Key, id.hash, resourceID, kind, storageTime, value, &id.identity)
	if err != nil {
		return wire.Signature{}, err
	}
	return wire.Signature{Algorithm: id.alg, Identity: id.identity, Value: v}, nil
}

// SignBlob signs an opaque blob and returns a SecurityBlock carrying this
// identity's certificates. RFC 6940 §11.1 signs the configuration and
// kind elements this way; the signature input is the blob alone (the
// RFC names no other input for them, unlike §6.3.4 and §7.1, which append
// the SignerIdentity).
func (id *Identity) SignBlob(blob []byte) (wire.SecurityBlock, error) {
	return id.SignBlobWith(id.alg, blob)
}

// SignBlobWith is SignBlob with another signature algorithm than the
// identity's (for example rsa-sha1, which RFC 6940 §11.1 names for
// configuration signatures); alg must fit the key. An Ed25519 key has
// one algorithm, ed25519.
func (id *Identity) SignBlobWith(alg wire.SignatureAndHashAlgorithm, blob []byte) (wire.SecurityBlock, error) {
	h, err := checkKeyAlg(alg, id.Key.Public())
	if err != nil {
		return wire.SecurityBlock{}, err
	}
	v, err := signBlobInput(id.Key, h, blob)
	if err != nil {
		return wire.SecurityBlock{}, err
	}
	sig := wire.Signature{Algorithm: alg, Identity: id.identity, Value: v}
	return wire.SecurityBlock{Certificates: id.Certificates(), Signature: sig}, nil
}

// appendMissingCerts appends the certificates of add not already in dst.
func appendMissingCerts(dst, add []wire.GenericCertificate) []wire.GenericCertificate {
outer:
	for _, c := range add {
		for _, d := range dst {
			if d.Type == c.Type && string(d.Certificate) == string(c.Certificate) {
				continue outer
			}
		}
		dst = append(dst, c)
	}
	return dst
}
