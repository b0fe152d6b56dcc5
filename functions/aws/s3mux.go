package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// bucketMux opens the s3:// buckets of bundles, results and
// PGMI_TRUSTED_SIGNERS_URL. It takes the URL parameters
// gocloud.dev/blob/s3blob's own opener takes, and differs in one thing: the
// SDK's log goes to logger, not to stderr as plain text. (s3blob's opener
// builds its client from a configuration it loads itself, with no way to
// set the logger.)
func bucketMux(logger logging.Logger) *blob.URLMux {
	mux := new(blob.URLMux)
	mux.RegisterBucket(s3blob.Scheme, &s3Opener{logger: logger})
	return mux
}

type s3Opener struct{ logger logging.Logger }

// OpenBucketURL reads the S3 parameters, hands the rest to
// gocloud.dev/aws.V2ConfigFromURLParams (region, endpoint, profile …) and
// opens the bucket with s3blob.OpenBucket.
func (o *s3Opener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	var bucketOpts s3blob.Options
	clientOpts, err := s3Params(q, &bucketOpts)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u.Host, err)
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u.Host, err)
	}
	cfg.Logger = o.logger
	// As s3blob's opener does: its uploads take the calculation from here.
	bucketOpts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, s3.NewFromConfig(cfg, clientOpts...), u.Host, &bucketOpts)
}

// s3Params takes the S3 parameters out of q: ssetype, kmskeyid,
// accelerate, use_path_style (or s3ForcePathStyle) and disable_https.
func s3Params(q url.Values, b *s3blob.Options) ([]func(*s3.Options), error) {
	var opts []func(*s3.Options)
	take := func(key string) string { v := q.Get(key); q.Del(key); return v }
	if v := take("ssetype"); v != "" {
		sse, err := sseType(v)
		if err != nil {
			return nil, err
		}
		b.EncryptionType = sse
	}
	if v := take("kmskeyid"); v != "" {
		b.KMSEncryptionID = v
	}
	for _, p := range []struct {
		key string
		set func(*s3.Options, bool)
	}{
		{"accelerate", func(o *s3.Options, v bool) { o.UseAccelerate = v }},
		{"use_path_style", func(o *s3.Options, v bool) { o.UsePathStyle = v }},
		{"s3ForcePathStyle", func(o *s3.Options, v bool) { o.UsePathStyle = v }},
		{"disable_https", func(o *s3.Options, v bool) { o.EndpointOptions.DisableHTTPS = v }},
	} {
		raw := take(p.key)
		if raw == "" {
			continue
		}
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %q: %w", p.key, err)
		}
		set := p.set
		opts = append(opts, func(o *s3.Options) { set(o, v) })
	}
	return opts, nil
}

func sseType(v string) (types.ServerSideEncryption, error) {
	for _, t := range types.ServerSideEncryptionAes256.Values() {
		if strings.EqualFold(string(t), v) {
			return t, nil
		}
	}
	return "", fmt.Errorf("%q is not a valid value for %q", v, "ssetype")
}
