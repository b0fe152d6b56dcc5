package azpin

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
)

func TestParseETag(t *testing.T) {
	cases := []struct {
		in   string
		want azcore.ETag // "": refused
	}{
		{"0x8DC0FFEE1234567", `"0x8DC0FFEE1234567"`},   // Event Grid data.eTag
		{`"0x8DC0FFEE1234567"`, `"0x8DC0FFEE1234567"`}, // HTTP ETag header
		{"", ""},
		{`""`, ""},
		{`"`, ""},
		{`W/"0x8D"`, ""},
		{`0x8D"x`, ""},
		{"0x8D\n", ""},
		{"0x8Dé", ""},
		{"2024-05-01T12:00:00.1234567Z", ""}, // a blob version id
	}
	for _, c := range cases {
		got, err := ParseETag(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("ParseETag(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestPinKeepsOtherConditions(t *testing.T) {
	lease := "lease-1"
	opts := azblobblob.DownloadStreamOptions{AccessConditions: &azblobblob.AccessConditions{
		LeaseAccessConditions: &azblobblob.LeaseAccessConditions{LeaseID: &lease},
	}}
	as := func(i any) bool {
		p, ok := i.(**azblobblob.DownloadStreamOptions)
		if ok {
			*p = &opts
		}
		return ok
	}
	if handled, err := pin(as, "0x8D1"); !handled || err != nil {
		t.Fatalf("handled %v, err %v", handled, err)
	}
	ac := opts.AccessConditions
	if ac.LeaseAccessConditions.LeaseID != &lease || ac.ModifiedAccessConditions == nil || *ac.ModifiedAccessConditions.IfMatch != `"0x8D1"` {
		t.Fatalf("access conditions %+v", ac)
	}
	if handled, err := pin(func(any) bool { return false }, "0x8D1"); handled || err != nil {
		t.Fatalf("handled %v, err %v for a driver that is not azureblob", handled, err)
	}
}
