package security

import (
	"crypto"
	"crypto/sha256"
	"encoding/binary"

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

func (id *Identity) sign(digest []byte) (wire.Signature, error) {
	v, err := signDigest(id.Key, id.hash, digest)
	if err != nil {
		return wire.Signature{}, err
	}
	return wire.Signature{Algorithm: id.alg, Identity: id.identity, Value: v}, nil
}

// SignMessage fills sb with this identity's certificates and the
// signature over overlay || transaction_id || MessageContents ||
// SignerIdentity (RFC 6940 §6.3.4); contents is the encoded
// MessageContents. Certificates already in sb are kept (add the
// certificates StoredData signatures need before or after).
func (id *Identity) SignMessage(sb *wire.SecurityBlock, overlay uint32, txid uint64, contents []byte) error {
	var dbuf [maxDigest]byte
	digest, err := hashMessageInputTo(&dbuf, id.hash, overlay, txid, contents, &id.identity)
	if err != nil {
		return err
	}
	sig, err := id.sign(digest)
	if err != nil {
		return err
	}
	sb.Signature = sig
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
	digest, err := hashDataInput(id.hash, resourceID, kind, storageTime, value, &id.identity)
	if err != nil {
		return wire.Signature{}, err
	}
	return id.sign(digest)
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
// configuration signatures); alg must fit the key.
func (id *Identity) SignBlobWith(alg wire.SignatureAndHashAlgorithm, blob []byte) (wire.SecurityBlock, error) {
	h, err := checkKeyAlg(alg, id.Key.Public())
	if err != nil {
		return wire.SecurityBlock{}, err
	}
	v, err := signDigest(id.Key, h, hashBlob(h, blob))
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
