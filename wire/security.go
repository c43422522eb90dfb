package wire

import "strconv"

// CertificateType is the type of a GenericCertificate (RFC 6091, cited by
// RFC 6940 §6.3.4).
type CertificateType uint8

// Certificate types; RELOAD uses X.509 only.
const (
	CertX509    CertificateType = 0
	CertOpenPGP CertificateType = 1
)

func (t CertificateType) String() string {
	switch t {
	case CertX509:
		return "X.509"
	case CertOpenPGP:
		return "OpenPGP"
	}
	return "CertificateType(" + strconv.Itoa(int(t)) + ")"
}

// HashAlgorithm is the TLS HashAlgorithm (RFC 5246 §7.4.1.4.1).
type HashAlgorithm uint8

// Hash algorithms. HashIntrinsic (RFC 8422 §5.1.3) is the "hash" of a
// signature algorithm that hashes internally, such as Ed25519: the
// signature covers the whole input, not a digest of it.
const (
	HashNone      HashAlgorithm = 0
	HashMD5       HashAlgorithm = 1
	HashSHA1      HashAlgorithm = 2
	HashSHA224    HashAlgorithm = 3
	HashSHA256    HashAlgorithm = 4
	HashSHA384    HashAlgorithm = 5
	HashSHA512    HashAlgorithm = 6
	HashIntrinsic HashAlgorithm = 8
)

func (h HashAlgorithm) String() string {
	switch h {
	case HashNone:
		return "none"
	case HashMD5:
		return "md5"
	case HashSHA1:
		return "sha1"
	case HashSHA224:
		return "sha224"
	case HashSHA256:
		return "sha256"
	case HashSHA384:
		return "sha384"
	case HashSHA512:
		return "sha512"
	case HashIntrinsic:
		return "intrinsic"
	}
	return "HashAlgorithm(" + strconv.Itoa(int(h)) + ")"
}

// SignatureAlgorithm is the TLS SignatureAlgorithm (RFC 5246 §7.4.1.4.1).
type SignatureAlgorithm uint8

// Signature algorithms. SigEd25519 is PureEdDSA over edwards25519 (RFC
// 8422 §5.1.3, RFC 8032 §5.1); it is used with HashIntrinsic only.
const (
	SigAnonymous SignatureAlgorithm = 0
	SigRSA       SignatureAlgorithm = 1
	SigDSA       SignatureAlgorithm = 2
	SigECDSA     SignatureAlgorithm = 3
	SigEd25519   SignatureAlgorithm = 7
)

func (s SignatureAlgorithm) String() string {
	switch s {
	case SigAnonymous:
		return "anonymous"
	case SigRSA:
		return "rsa"
	case SigDSA:
		return "dsa"
	case SigECDSA:
		return "ecdsa"
	case SigEd25519:
		return "ed25519"
	}
	return "SignatureAlgorithm(" + strconv.Itoa(int(s)) + ")"
}

// SignatureAndHashAlgorithm is the TLS pair (RFC 5246 §7.4.1.4.1).
type SignatureAndHashAlgorithm struct {
	Hash      HashAlgorithm
	Signature SignatureAlgorithm
}

// Common algorithm pairs.
var (
	AlgRSASHA256   = SignatureAndHashAlgorithm{HashSHA256, SigRSA} // mandatory to implement
	AlgECDSASHA256 = SignatureAndHashAlgorithm{HashSHA256, SigECDSA}
	AlgEd25519     = SignatureAndHashAlgorithm{HashIntrinsic, SigEd25519} // 0x0807, RFC 8422 §5.1.3
	AlgNone        = SignatureAndHashAlgorithm{HashNone, SigAnonymous}
)

// String is "<signature>-<hash>" ("ecdsa-sha256"), or the signature
// alone for an intrinsic hash ("ed25519", as TLS names 0x0807).
func (a SignatureAndHashAlgorithm) String() string {
	if a.Hash == HashIntrinsic {
		return a.Signature.String()
	}
	return a.Signature.String() + "-" + a.Hash.String()
}

// GenericCertificate is one certificate of a SecurityBlock (RFC 6940
// §6.3.4):
//
//	struct {
//	   CertificateType     type;
//	   opaque              certificate<0..2^16-1>;
//	} GenericCertificate;
//
// Certificate (DER for X.509) aliases the decoded input.
type GenericCertificate struct {
	Type        CertificateType
	Certificate []byte
}

// Len is the encoded size.
func (c *GenericCertificate) Len() int { return 3 + len(c.Certificate) }

// Decode reads one GenericCertificate from the start of b.
func (c *GenericCertificate) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "type", 0)
	}
	v, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "certificate", 1)
	}
	c.Type, c.Certificate = CertificateType(t), v
	return r.Offset(), nil
}

// Append appends the encoding of c.
func (c *GenericCertificate) Append(b []byte) ([]byte, error) {
	b = append(b, byte(c.Type))
	b, err := AppendVec16(b, c.Certificate)
	if err != nil {
		return b, fieldErr(err, "certificate", 1)
	}
	return b, nil
}

// SignerIdentityType selects the form of a SignerIdentity (RFC 6940
// §6.3.4).
type SignerIdentityType uint8

// Signer identity types.
const (
	IdentityInvalid        SignerIdentityType = 0
	IdentityCertHash       SignerIdentityType = 1
	IdentityCertHashNodeID SignerIdentityType = 2
	IdentityNone           SignerIdentityType = 3
)

func (t SignerIdentityType) String() string {
	switch t {
	case IdentityInvalid:
		return "invalidSignerIdentityType"
	case IdentityCertHash:
		return "cert_hash"
	case IdentityCertHashNodeID:
		return "cert_hash_node_id"
	case IdentityNone:
		return "none"
	}
	return "SignerIdentityType(" + strconv.Itoa(int(t)) + ")"
}

// SignerIdentity names the certificate that made a signature (RFC 6940
// §6.3.4):
//
//	struct {
//	  select (identity_type) {
//	    case cert_hash;
//	      HashAlgorithm      hash_alg;
//	      opaque             certificate_hash<0..2^8-1>;
//	    case cert_hash_node_id:
//	      HashAlgorithm      hash_alg;
//	      opaque             certificate_node_id_hash<0..2^8-1>;
//	    case none:
//	      /* empty */
//	  };
//	} SignerIdentityValue;
//
//	struct {
//	  SignerIdentityType     identity_type;
//	  uint16                 length;
//	  SignerIdentityValue    identity[SignerIdentity.length];
//	} SignerIdentity;
//
// For cert_hash and cert_hash_node_id, HashAlg and Hash hold the value;
// for an unknown type, Raw holds the whole value so it round-trips. The
// slices alias the decoded input.
type SignerIdentity struct {
	Type    SignerIdentityType
	HashAlg HashAlgorithm
	Hash    []byte
	Raw     []byte
}

// valueLen is the length of the identity value.
func (s *SignerIdentity) valueLen() int {
	switch s.Type {
	case IdentityCertHash, IdentityCertHashNodeID:
		return 2 + len(s.Hash)
	case IdentityNone:
		return 0
	}
	return len(s.Raw)
}

// Len is the encoded size.
func (s *SignerIdentity) Len() int { return 3 + s.valueLen() }

// Decode reads a SignerIdentity from the start of b.
func (s *SignerIdentity) Decode(b []byte) (int, error) {
	r := NewReader(b)
	t, err := r.ReadU8()
	if err != nil {
		return 0, fieldErr(err, "identity_type", 0)
	}
	v, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "length", 1)
	}
	*s = SignerIdentity{Type: SignerIdentityType(t)}
	switch s.Type {
	case IdentityInvalid:
		return 0, fieldErr(ErrInvalid, "identity_type", 0)
	case IdentityCertHash, IdentityCertHashNodeID:
		vr := NewReader(v)
		h, err := vr.ReadU8()
		if err != nil {
			return 0, fieldErr(err, "identity.hash_alg", 3)
		}
		hash, err := vr.ReadVec8()
		if err != nil {
			return 0, fieldErr(err, "identity.certificate_hash", 4)
		}
		if !vr.Empty() {
			return 0, fieldErr(ErrTrailingData, "identity", 3+vr.Offset())
		}
		s.HashAlg, s.Hash = HashAlgorithm(h), hash
	case IdentityNone:
		if len(v) != 0 {
			return 0, fieldErr(ErrTrailingData, "identity", 3)
		}
	default:
		s.Raw = v
	}
	return r.Offset(), nil
}

// Append appends the encoding of s.
func (s *SignerIdentity) Append(b []byte) ([]byte, error) {
	if s.Type == IdentityInvalid {
		return b, fieldErr(ErrInvalid, "identity_type", 0)
	}
	n := s.valueLen()
	if n > 0xffff {
		return b, fieldErr(ErrTooLong, "length", 1)
	}
	b = append(b, byte(s.Type))
	b = AppendU16(b, uint16(n))
	switch s.Type {
	case IdentityCertHash, IdentityCertHashNodeID:
		b = append(b, byte(s.HashAlg))
		var err error
		if b, err = AppendVec8(b, s.Hash); err != nil {
			return b, fieldErr(err, "identity.certificate_hash", 4)
		}
	case IdentityNone:
	default:
		b = append(b, s.Raw...)
	}
	return b, nil
}

// Signature is a signature with its algorithm and signer (RFC 6940
// §6.3.4):
//
//	struct {
//	   SignatureAndHashAlgorithm     algorithm;
//	   SignerIdentity                identity;
//	   opaque                        signature_value<0..2^16-1>;
//	} Signature;
//
// Value aliases the decoded input.
type Signature struct {
	Algorithm SignatureAndHashAlgorithm
	Identity  SignerIdentity
	Value     []byte
}

// Len is the encoded size.
func (s *Signature) Len() int { return 2 + s.Identity.Len() + 2 + len(s.Value) }

// Decode reads a Signature from the start of b.
func (s *Signature) Decode(b []byte) (int, error) {
	if len(b) < 1 {
		return 0, fieldErr(ErrTruncated, "algorithm.hash", 0)
	}
	if len(b) < 2 {
		return 0, fieldErr(ErrTruncated, "algorithm.signature", 1)
	}
	s.Algorithm = SignatureAndHashAlgorithm{HashAlgorithm(b[0]), SignatureAlgorithm(b[1])}
	n, err := s.Identity.Decode(b[2:])
	if err != nil {
		return 0, fieldErr(err, "identity", 2)
	}
	r := NewReader(b[2+n:])
	v, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "signature_value", 2+n)
	}
	s.Value = v
	return 2 + n + r.Offset(), nil
}

// Append appends the encoding of s.
func (s *Signature) Append(b []byte) ([]byte, error) {
	b = append(b, byte(s.Algorithm.Hash), byte(s.Algorithm.Signature))
	b, err := s.Identity.Append(b)
	if err != nil {
		return b, fieldErr(err, "identity", 2)
	}
	if b, err = AppendVec16(b, s.Value); err != nil {
		return b, fieldErr(err, "signature_value", 0)
	}
	return b, nil
}

// SecurityBlock is the third part of a message (RFC 6940 §6.3.4):
//
//	struct {
//	   GenericCertificate certificates<0..2^16-1>;
//	   Signature          signature;
//	} SecurityBlock;
//
// Decode reuses the capacity of Certificates.
type SecurityBlock struct {
	Certificates []GenericCertificate
	Signature    Signature
}

// Len is the encoded size.
func (s *SecurityBlock) Len() int {
	n := 2 + s.Signature.Len()
	for i := range s.Certificates {
		n += s.Certificates[i].Len()
	}
	return n
}

// Decode reads a SecurityBlock from the start of b.
func (s *SecurityBlock) Decode(b []byte) (int, error) {
	r := NewReader(b)
	certs, err := r.ReadVec16()
	if err != nil {
		return 0, fieldErr(err, "SecurityBlock.certificates", 0)
	}
	s.Certificates = s.Certificates[:0]
	for o := 0; o < len(certs); {
		var c GenericCertificate
		n, err := c.Decode(certs[o:])
		if err != nil {
			return 0, indexErr(err, "SecurityBlock.certificates", len(s.Certificates), 2+o)
		}
		s.Certificates = append(s.Certificates, c)
		o += n
	}
	n, err := s.Signature.Decode(r.Peek())
	if err != nil {
		return 0, fieldErr(err, "SecurityBlock.signature", r.Offset())
	}
	return r.Offset() + n, nil
}

// Append appends the encoding of s.
func (s *SecurityBlock) Append(b []byte) ([]byte, error) {
	b, mark := BeginVec(b, 2)
	var err error
	for i := range s.Certificates {
		if b, err = s.Certificates[i].Append(b); err != nil {
			return b, indexErr(err, "SecurityBlock.certificates", i, 0)
		}
	}
	if b, err = EndVec(b, mark, 2); err != nil {
		return b, fieldErr(err, "SecurityBlock.certificates", 0)
	}
	if b, err = s.Signature.Append(b); err != nil {
		return b, fieldErr(err, "SecurityBlock.signature", 0)
	}
	return b, nil
}

// AppendMessageSignatureInput appends what a message signature covers
// (RFC 6940 §6.3.4): overlay || transaction_id || MessageContents ||
// SignerIdentity, where contents is the encoded MessageContents.
func AppendMessageSignatureInput(b []byte, overlay uint32, transactionID uint64, contents []byte, id *SignerIdentity) ([]byte, error) {
	b = AppendU32(b, overlay)
	b = AppendU64(b, transactionID)
	b = append(b, contents...)
	return id.Append(b)
}
