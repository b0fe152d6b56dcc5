// Package azpin pins bundle reads from Azure Blob Storage to one blob
// content, by ETag.
//
// Importing it (for its side effects) registers a bundle.VersionPinner for
// buckets opened with gocloud.dev/blob/azureblob. The version is the blob's
// ETag as the upload event names it (Event Grid's data.eTag, e.g.
// 0x8DC0FFEE1234567; the quoted HTTP form "0x8DC0FFEE1234567" is accepted
// too). Every read of a Remote that bundle.Fetch returns, including range
// reads that resume a broken download and the re-reads of later passes, is
// sent with If-Match: <ETag>.
//
// That is a precondition, not a time machine: it means "fail if changed",
// never "read the old content". If the blob was overwritten after the event,
// the read fails with HTTP 412 ConditionNotMet, which Fetch reports as a
// *bundle.FetchError with gcerrors.FailedPrecondition ("the object
// changed"), not retryable: the event for the newer upload deploys that one.
// A deploy never mixes bytes of two uploads.
//
// Why not the blob version id: with blob versioning on, Azure can read an old
// version by id, but gocloud's azureblob driver (v0.47) exposes only
// *azblob/blob.DownloadStreamOptions to BeforeRead, and the version id is part
// of the blob URL (blob.Client.WithVersionID), not of the download options.
// A version id passed here (it looks like a timestamp,
// 2024-05-01T12:00:00.1234567Z) is refused with an error saying to pass the
// ETag instead, rather than sent as an ETag that can never match.
//
// azpin blank-imports azureblob, so the one import also registers the
// azblob:// URL scheme; a composition root may blank-import azureblob as well
// to make the driver explicit. Either way the binary links only the Azure
// SDK: azpin imports no other cloud.
package azpin
