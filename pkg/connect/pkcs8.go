package connect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"hash"
)

// Decryption of PKCS#8 "ENCRYPTED PRIVATE KEY" blocks (RFC 5958 / RFC 8018):
// PBES2 with PBKDF2 (HMAC-SHA1/224/256/384/512) and AES-128/192/256-CBC or
// DES-EDE3-CBC, which covers what OpenSSL writes (openssl pkcs8 -topk8,
// openssl genpkey -aes256, and OpenSSL 3's defaults). The standard library
// has every primitive but not the container.

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                 `asn1:"optional"`
	PRF            algorithmIdentifier `asn1:"optional"`
}

// errUnsupportedPKCS8 says which encryption a key uses that we cannot read.
var errUnsupportedPKCS8 = errors.New("the key uses an encryption scheme other than PBES2 with PBKDF2 and AES or 3DES (re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc)")

// errBadPassphrase means the passphrase does not decrypt the key.
var errBadPassphrase = errors.New("the passphrase does not decrypt the key (check PGSSLPASSWORD)")

// decryptPKCS8 returns the PKCS#8 PrivateKeyInfo DER inside an
// EncryptedPrivateKeyInfo.
func decryptPKCS8(der []byte, password []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("the encrypted key is not valid PKCS#8")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, errUnsupportedPKCS8
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, errors.New("the encrypted key has invalid PBES2 parameters")
	}
	block, iv, err := pbes2Cipher(params.EncryptionScheme)
	if err != nil {
		return nil, err
	}
	key, err := pbes2Key(params.KeyDerivationFunc, password, block.keyLen)
	if err != nil {
		return nil, err
	}
	c, err := block.newCipher(key)
	if err != nil {
		return nil, err
	}
	data := info.EncryptedData
	if len(data) == 0 || len(data)%c.BlockSize() != 0 || len(iv) != c.BlockSize() {
		return nil, errors.New("the encrypted key has an invalid length")
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(c, iv).CryptBlocks(plain, data)
	return unpad(plain, c.BlockSize())
}

type cbcCipher struct {
	keyLen    int
	newCipher func([]byte) (cipher.Block, error)
}

func pbes2Cipher(alg algorithmIdentifier) (cbcCipher, []byte, error) {
	var c cbcCipher
	switch {
	case alg.Algorithm.Equal(oidAES128CBC):
		c = cbcCipher{16, aes.NewCipher}
	case alg.Algorithm.Equal(oidAES192CBC):
		c = cbcCipher{24, aes.NewCipher}
	case alg.Algorithm.Equal(oidAES256CBC):
		c = cbcCipher{32, aes.NewCipher}
	case alg.Algorithm.Equal(oidDESEDE3CBC):
		c = cbcCipher{24, des.NewTripleDESCipher}
	default:
		return c, nil, errUnsupportedPKCS8
	}
	var iv []byte
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &iv); err != nil {
		return c, nil, errors.New("the encrypted key has an invalid IV")
	}
	return c, iv, nil
}

func pbes2Key(kdf algorithmIdentifier, password []byte, keyLen int) ([]byte, error) {
	if kdf.Algorithm.Equal(oidScrypt) || !kdf.Algorithm.Equal(oidPBKDF2) {
		return nil, errUnsupportedPKCS8
	}
	var p pbkdf2Params
	if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil {
		return nil, errors.New("the encrypted key has invalid PBKDF2 parameters")
	}
	if p.KeyLength != 0 && p.KeyLength != keyLen {
		return nil, errors.New("the encrypted key's PBKDF2 key length does not match its cipher")
	}
	if p.IterationCount < 1 || p.IterationCount > 10_000_000 {
		return nil, errors.New("the encrypted key has an unreasonable PBKDF2 iteration count")
	}
	prf, err := pbkdf2PRF(p.PRF.Algorithm)
	if err != nil {
		return nil, err
	}
	return pbkdf2.Key(prf, string(password), p.Salt, p.IterationCount, keyLen)
}

func pbkdf2PRF(oid asn1.ObjectIdentifier) (func() hash.Hash, error) {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACSHA1):
		return sha1.New, nil
	case oid.Equal(oidHMACSHA224):
		return sha256.New224, nil
	case oid.Equal(oidHMACSHA256):
		return sha256.New, nil
	case oid.Equal(oidHMACSHA384):
		return sha512.New384, nil
	case oid.Equal(oidHMACSHA512):
		return sha512.New, nil
	}
	return nil, errUnsupportedPKCS8
}

// unpad strips PKCS#7 padding; bad padding means a wrong passphrase.
func unpad(b []byte, blockSize int) ([]byte, error) {
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize || n > len(b) {
		return nil, errBadPassphrase
	}
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(n)
	}
	if subtle.ConstantTimeCompare(b[len(b)-n:], want) != 1 {
		return nil, errBadPassphrase
	}
	return b[:len(b)-n], nil
}
