// Package gcspin pins bundle reads from Google Cloud Storage to one object
// generation.
//
// Importing it (for its side effects) registers a bundle.VersionPinner for
// buckets opened with gocloud.dev/blob/gcsblob: every read of a Remote that
// bundle.Fetch returns, including range reads that resume a broken download
// and the re-reads of later passes, goes through ObjectHandle.Generation with
// the generation the upload event named. GCS events carry the generation as
// a decimal string ("1700000000000001"), which is the version's form here:
// digits only, positive, within int64; anything else is refused before any
// request.
//
// Reading an older generation needs object versioning on the bucket (or a
// generation that is still live); a generation the bucket no longer holds is
// gcerrors.NotFound. Note that gcsblob reports an HTTP 403 as NotFound too
// (GCS answers 403 for a missing object when the caller may not list the
// bucket), so a permission problem reads as "not found" with the 403 in the
// message.
//
// gcspin blank-imports gcsblob, so the one import also registers the gs://
// URL scheme; a composition root may blank-import gcsblob as well to make the
// driver explicit. Either way the binary links only Google's SDK: gcspin
// imports no other cloud.
package gcspin
