// Package s3pin pins bundle reads from Amazon S3 to one object version.
//
// Importing it (for its side effects) registers a bundle.VersionPinner for
// buckets opened with gocloud.dev/blob/s3blob: every read of a Remote that
// bundle.Fetch returns, including range reads that resume a broken download
// and the re-reads of later passes, sends GetObject with VersionId set to the
// version the upload event named (the S3 event's versionId, "null" included
// for objects written before versioning was enabled). A second upload to the
// same key makes a new version and cannot change what is deployed.
//
// s3pin blank-imports s3blob, so the one import also registers the s3://
// URL scheme; a composition root may blank-import s3blob as well to make the
// driver explicit. Either way the binary links only the AWS SDK: s3pin
// imports no other cloud.
//
// Pinning needs a versioned bucket. On an unversioned bucket every object's
// version is "null" (and events carry no versionId, so the deployer reads
// the current object unpinned).
//
// A version that the bucket does not hold (never existed, or deleted) is
// reported as gcerrors.NotFound: S3 answers 404 NoSuchVersion, which
// gocloud's s3blob would classify as an unknown, hence retryable, error, so
// s3pin relabels that one error, on pinned reads only, as NotFound. A
// malformed version id (empty, over 1024 bytes, control characters) is
// refused before any request.
package s3pin
