// Package testfakes holds what the storage fakes share: Faults, an
// http.Handler wrapper that makes chosen requests fail (an HTTP status, or a
// response cut off mid-body) and counts them, so tests can prove that a
// transient failure is retried and a permanent one is not.
//
// The fakes themselves live in the subpackages, one per cloud, each speaking
// the cloud's real protocol over loopback HTTP to the real SDK and gocloud
// driver:
//
//   - s3fake: gofakes3 in process (S3 REST, path-style, versioning);
//   - gcsfake: fake-gcs-server in process (GCS JSON and XML APIs,
//     generations);
//   - azurite: the Azurite blob emulator as a subprocess, installed by
//     scripts/deps.sh (Azure Blob REST, ETags).
//
// Every fake puts Faults in front of the server, so the same failure
// injection works for all three. fetchtest is the conformance suite that
// pkg/bundle's version pinners (s3pin, gcspin, azpin) run on their fake.
//
// gocloud's URL openers read the environment once per process (gcsblob
// caches STORAGE_EMULATOR_HOST, azureblob its credentials), so a test
// binary that fetches by URL should use one fake for all its tests.
package testfakes
