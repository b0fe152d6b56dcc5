package bundle

import (
	"context"
	"io"
	"os"
	"time"
)

// Opener opens the bundle's bytes from the start. A Bundle calls it again
// when the engine asks for a file behind the current read position, so it
// must return the same bytes every time: re-open the same file, or re-fetch
// the same pinned object version (Remote.Open).
type Opener func(ctx context.Context) (io.ReadCloser, error)

// OpenFile is an Opener for a local file.
func OpenFile(name string) Opener {
	return func(context.Context) (io.ReadCloser, error) { return os.Open(name) }
}

// ReadOptions decide what a reader trusts and accepts.
type ReadOptions struct {
	// Trusted are the keys allowed to sign bundles. Required unless
	// AllowUnsigned; when set, a present signature is always checked.
	Trusted *AllowedSigners
	// AllowUnsigned accepts bundles without a signature, and with Trusted
	// nil accepts any signature unchecked. Functions refuse this unless
	// PGMI_ALLOW_UNSIGNED=true.
	AllowUnsigned bool
	Principal     string    // when set, the signer must be listed for this principal
	Now           time.Time // signer validity reference; zero means time.Now()
	Limits        Limits    // zero fields take DefaultLimits
}

// trust verifies the signature over the manifest bytes and only then
// parses the manifest.
func (o *ReadOptions) trust(manifest, sig []byte) (*Manifest, *Signer, error) {
	lim := o.Limits.withDefaults()
	var signer *Signer
	switch {
	case sig == nil && !o.AllowUnsigned:
		return nil, nil, reject(ErrUnsigned, "", "no %s; sign it with pgmi bundle --sign-key or allow unsigned bundles explicitly", SignaturePath)
	case sig != nil && o.Trusted != nil:
		var err error
		signer, err = o.Trusted.Verify(sig, manifest, VerifyOptions{Principal: o.Principal, Now: o.Now})
		if err != nil {
			return nil, nil, err
		}
	case o.Trusted == nil && !o.AllowUnsigned:
		return nil, nil, reject(ErrNoTrustedSigners, "", "pass an allowed_signers file to verify bundle signatures")
	}
	m, err := ParseManifest(manifest, lim)
	if err != nil {
		return nil, nil, err
	}
	return m, signer, nil
}

func (o *ReadOptions) orDefault() *ReadOptions {
	if o == nil {
		return &ReadOptions{}
	}
	return o
}
