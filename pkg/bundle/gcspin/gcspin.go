package gcspin

import (
	"fmt"
	"strconv"

	"cloud.google.com/go/storage"
	_ "gocloud.dev/blob/gcsblob" // the driver whose reads this package pins

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// Name is the name the pinner is registered under.
const Name = "gcs"

func init() {
	bundle.RegisterVersionPinner(Name, pin)
	bundle.RegisterVersionReader(uploadedVersion)
}

// uploadedVersion reads an object's generation from its attributes.
func uploadedVersion(as func(any) bool) (string, bool) {
	var attrs storage.ObjectAttrs
	if !as(&attrs) {
		return "", false
	}
	return strconv.FormatInt(attrs.Generation, 10), true
}

// pin replaces gcsblob's object handle with one for the generation. It asks
// only for the handle, never for the *storage.Reader, which gcsblob would
// open on the spot, before the generation is set.
func pin(as func(any) bool, version string) (bool, error) {
	var obj **storage.ObjectHandle
	if !as(&obj) {
		return false, nil
	}
	gen, err := ParseGeneration(version)
	if err != nil {
		return true, err
	}
	*obj = (*obj).Generation(gen)
	return true, nil
}

// ParseGeneration reads a GCS generation in the decimal-string form events
// and the JSON API use.
func ParseGeneration(s string) (int64, error) {
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("gcspin: generation %q is not a decimal number", s)
		}
	}
	gen, err := strconv.ParseInt(s, 10, 64)
	if err != nil || gen <= 0 {
		return 0, fmt.Errorf("gcspin: generation %q is not a positive 64-bit number", s)
	}
	return gen, nil
}
