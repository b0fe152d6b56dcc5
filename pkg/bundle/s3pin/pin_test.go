package s3pin

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fakeAs stands in for s3blob's BeforeRead As function.
func fakeAs(in *s3.GetObjectInput, optFns *[]func(*s3.Options)) func(any) bool {
	return func(i any) bool {
		switch p := i.(type) {
		case **s3.GetObjectInput:
			*p = in
		case **[]func(*s3.Options):
			*p = optFns
		default:
			return false
		}
		return true
	}
}

func TestPin(t *testing.T) {
	cases := []struct {
		version string
		ok      bool
	}{
		{"3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY-MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo", true},
		{"null", true}, // objects written before versioning was enabled
		{strings.Repeat("v", maxVersionLen), true},
		{strings.Repeat("v", maxVersionLen+1), false},
		{"", false},
		{"abc\ndef", false},
		{"abc\x00", false},
	}
	for _, c := range cases {
		var in s3.GetObjectInput
		var optFns []func(*s3.Options)
		handled, err := pin(fakeAs(&in, &optFns), c.version)
		if !handled {
			t.Fatalf("%q: not handled", c.version)
		}
		if (err == nil) != c.ok {
			t.Fatalf("%q: error %v, want ok=%v", c.version, err, c.ok)
		}
		if c.ok && (in.VersionId == nil || *in.VersionId != c.version || len(optFns) != 1) {
			t.Fatalf("%q: VersionId %v, %d option functions", c.version, in.VersionId, len(optFns))
		}
		if !c.ok && (in.VersionId != nil || len(optFns) != 0) {
			t.Fatalf("%q: refused, but the input was changed", c.version)
		}
	}
}

func TestPinIgnoresOtherDrivers(t *testing.T) {
	handled, err := pin(func(any) bool { return false }, "v1")
	if handled || err != nil {
		t.Fatalf("handled %v, err %v for a driver that is not s3blob", handled, err)
	}
}
