package s3pin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	_ "gocloud.dev/blob/s3blob" // the driver whose reads this package pins

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// Name is the name the pinner is registered under.
const Name = "s3"

func init() {
	bundle.RegisterVersionPinner(Name, pin)
	bundle.RegisterVersionReader(uploadedVersion)
}

// uploadedVersion reads the versionId of an object's attributes ("" on an
// unversioned bucket, where nothing can be pinned).
func uploadedVersion(as func(any) bool) (string, bool) {
	var head s3.HeadObjectOutput
	if !as(&head) {
		return "", false
	}
	return aws.ToString(head.VersionId), true
}

// maxVersionLen is S3's limit on a version id.
const maxVersionLen = 1024

// pin sets the version on s3blob's GetObjectInput, and adds the per-call
// middleware that reports a missing version as not found.
func pin(as func(any) bool, version string) (bool, error) {
	var in *s3.GetObjectInput
	if !as(&in) {
		return false, nil
	}
	if err := checkVersion(version); err != nil {
		return true, err
	}
	in.VersionId = aws.String(version)
	var optFns *[]func(*s3.Options)
	if as(&optFns) {
		*optFns = append(*optFns, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, addVersionNotFound)
		})
	}
	return true, nil
}

func checkVersion(v string) error {
	switch {
	case v == "":
		return errors.New("s3pin: empty version id")
	case len(v) > maxVersionLen:
		return fmt.Errorf("s3pin: version id of %d bytes is longer than S3's %d", len(v), maxVersionLen)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("s3pin: version id %q holds control characters", v)
	}
	return nil
}

func addVersionNotFound(st *middleware.Stack) error {
	return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("pgmiVersionNotFound", relabelNoSuchVersion), middleware.Before)
}

// relabelNoSuchVersion wraps S3's NoSuchVersion error so that gocloud reads
// its code as NotFound. Runs per attempt, outside the operation's own
// deserializer, so it sees the decoded API error.
func relabelNoSuchVersion(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	var api smithy.APIError
	if err != nil && errors.As(err, &api) && api.ErrorCode() == "NoSuchVersion" {
		err = &versionNotFound{api: api}
	}
	return out, md, err
}

// versionNotFound is S3's NoSuchVersion under the code gocloud's s3blob
// maps to gcerrors.NotFound ("NotFound", which S3 itself sends for a HEAD of
// a missing key). The message keeps S3's own words.
type versionNotFound struct{ api smithy.APIError }

func (e *versionNotFound) Error() string                 { return e.api.Error() }
func (e *versionNotFound) Unwrap() error                 { return e.api }
func (e *versionNotFound) ErrorCode() string             { return "NotFound" }
func (e *versionNotFound) ErrorMessage() string          { return e.api.ErrorMessage() }
func (e *versionNotFound) ErrorFault() smithy.ErrorFault { return smithy.FaultClient }
