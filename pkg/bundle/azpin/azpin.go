package azpin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	_ "gocloud.dev/blob/azureblob" // the driver whose reads this package pins
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// Name is the name the pinner is registered under.
const Name = "azure"

func init() {
	bundle.RegisterVersionPinner(Name, pin)
	bundle.RegisterErrorClassifier(classify)
}

// classify maps Azure responses by HTTP status when the driver left them
// unclassified: gocloud's azureblob knows only AuthenticationFailed as a
// permission error, while storage answers firewall, SAS and RBAC denials
// with AuthorizationFailure or AuthorizationPermissionMismatch (403).
func classify(err error) (gcerrors.ErrorCode, bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return 0, false
	}
	switch re.StatusCode {
	case http.StatusForbidden, http.StatusUnauthorized:
		return gcerrors.PermissionDenied, true
	case http.StatusNotFound:
		return gcerrors.NotFound, true
	case http.StatusPreconditionFailed:
		return gcerrors.FailedPrecondition, true
	case http.StatusBadRequest:
		return gcerrors.InvalidArgument, true
	}
	return 0, false
}

// pin adds If-Match to azureblob's download options.
func pin(as func(any) bool, version string) (bool, error) {
	var opts *azblobblob.DownloadStreamOptions
	if !as(&opts) {
		return false, nil
	}
	etag, err := ParseETag(version)
	if err != nil {
		return true, err
	}
	if opts.AccessConditions == nil {
		opts.AccessConditions = &azblobblob.AccessConditions{}
	}
	if opts.AccessConditions.ModifiedAccessConditions == nil {
		opts.AccessConditions.ModifiedAccessConditions = &azblobblob.ModifiedAccessConditions{}
	}
	opts.AccessConditions.ModifiedAccessConditions.IfMatch = &etag
	return true, nil
}

// ParseETag reads an ETag as Event Grid (bare) or HTTP (quoted) writes it
// and returns the quoted form If-Match takes.
func ParseETag(s string) (azcore.ETag, error) {
	bare := s
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		bare = s[1 : len(s)-1]
	}
	switch {
	case bare == "":
		return "", fmt.Errorf("azpin: empty ETag %q", s)
	case looksLikeVersionID(bare):
		return "", fmt.Errorf("azpin: %q is a blob version id, which gocloud's azureblob driver cannot pin; pass the blob's ETag (Event Grid data.eTag)", s)
	case strings.HasPrefix(bare, "W/"):
		return "", fmt.Errorf("azpin: weak ETag %q; Azure Blob ETags are strong", s)
	case strings.ContainsFunc(bare, func(r rune) bool { return r == '"' || r > unicode.MaxASCII || unicode.IsControl(r) }):
		return "", fmt.Errorf("azpin: ETag %q holds quotes, control or non-ASCII characters", s)
	}
	return azcore.ETag(`"` + bare + `"`), nil
}

func looksLikeVersionID(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
