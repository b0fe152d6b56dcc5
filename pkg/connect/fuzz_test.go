package connect

import (
	"encoding/pem"
	"testing"
)

// FuzzParsePassfile: any password file parses without panicking, and a
// lookup returns one of its lines' passwords or nothing.
func FuzzParsePassfile(f *testing.F) {
	for _, seed := range []string{"h:5432:db:u:pw\n", `a\:b:*:*:*:p\\w`, "#c\n::::\n*:*:*:*:", "x:y", "\\", "a:b:c:d:e:f\r\n"} {
		f.Add(seed, "h", uint16(5432), "db", "u")
	}
	f.Fuzz(func(t *testing.T, data, host string, port uint16, db, user string) {
		p := ParsePassfile([]byte(data))
		if pw, ok := p.Lookup(host, port, db, user); ok && len(pw) > len(data) {
			t.Fatalf("password %q longer than the file", pw)
		}
	})
}

// FuzzDecryptPKCS8: a hostile or corrupt key file never panics the decoder.
func FuzzDecryptPKCS8(f *testing.F) {
	block, _ := pem.Decode(encryptedPKCS8PEM(f, ecKey(f), "pass"))
	f.Add(block.Bytes, []byte("pass"))
	f.Add(block.Bytes, []byte("wrong"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01}, []byte("x"))
	f.Fuzz(func(t *testing.T, der, password []byte) {
		_, _ = decryptPKCS8(der, password)
	})
}
