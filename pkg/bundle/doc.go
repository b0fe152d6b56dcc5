// Package bundle builds, signs, verifies, reads and fetches pgmi bundles: a
// pgmi project (deploy.sql plus migrations, data files and tests) packed into
// one signed archive that the deployer treats as hostile until verified.
//
// # Format (pgmi-bundle/1)
//
// A bundle is a gzip-compressed tar (.tar.gz, .tgz) whose root is the project
// root. Pack writes, in this order:
//
//   - .pgmi/manifest.json: the manifest (below), the first entry, so a
//     reader verifies it before reading any file;
//   - .pgmi/manifest.sig: the SSH signature of the manifest bytes, when
//     signed;
//   - deploy.sql, then every other file in the order fs.WalkDir visits them
//     (each directory's entries sorted by name). The engine reads deploy.sql
//     first and then walks, so its scan is one forward pass over the archive.
//
// Only regular files are written, no directory entries. Every header is a
// USTAR block (Go's archive/tar with FormatPAX, which adds a PAX "path"
// record only for names too long or not ASCII): mode 0644, uid and gid 0, no
// user or group names, and the modification time set to the bundle's
// creation time (1970-01-01T00:00:00Z when unknown). The gzip header has no
// name and no time. The same tree, options and pgmi build therefore give the
// same bytes; the manifest, and so its signature, is identical across builds
// too (only the compressed bytes could change with the Go version).
//
// The files are those the engine would load: segments starting with ".",
// node_modules and __pycache__ are left out, and engine.Scan runs first, so
// Pack refuses binary, non-UTF-8, symlinked or oversize files with the
// engine's own errors. A bundle holds no hidden file, so .env and the like
// never leave the machine.
//
// The manifest is canonical compact JSON (as Manifest.Marshal writes it;
// anything else is refused, so one manifest has exactly one byte form):
//
//	{"format":"pgmi-bundle/1","name":"app","version":"1.4.0",
//	 "source":{"commit":"<git HEAD>","dirty":true},"created":"2024-05-01T12:00:00Z",
//	 "files":[{"path":"deploy.sql","size":123,"sha256":"<hex>"},…]}
//
// name and version are the publisher's; source comes from GitSource (git
// when installed, else .git/HEAD and refs read directly); created comes from
// SOURCE_DATE_EPOCH (CreatedFromEnv), else the composition root may use the
// HEAD commit's time from GitSource, else it is omitted. Every default keeps
// packing deterministic: nothing reads the clock.
//
// # Signatures
//
// The signature is an SSH signature in the format of ssh-keygen -Y sign
// (OpenSSH PROTOCOL.sshsig, SHA-512 message hash, rsa-sha2-512 for RSA keys)
// in the namespace "pgmi-bundle@v1" (Namespace), over the exact bytes of
// .pgmi/manifest.json. Release engineers can sign and check by hand:
//
//	tar -xzf app.tgz .pgmi/manifest.json
//	ssh-keygen -Y sign -f ~/.ssh/release -n pgmi-bundle@v1 .pgmi/manifest.json
//	ssh-keygen -Y verify -f allowed_signers -I release@example.com \
//	    -n pgmi-bundle@v1 -s .pgmi/manifest.json.sig < .pgmi/manifest.json
//
// Trusted keys are an allowed_signers file (ParseAllowedSigners): principals,
// the options namespaces="…", valid-after="…" and valid-before="…", one key per
// line. cert-authority lines and certificate-signed bundles are refused with
// a clear error (not supported). Because a manifest lists every file's
// SHA-256, the signature covers every byte that reaches the database.
//
// # Reading
//
// Open streams a tar.gz bundle from an Opener (any io.Reader source) and
// returns a *Bundle, an fs.FS for the engine: the signature is checked
// before the manifest is even parsed, the manifest becomes the directory
// index (ReadDir and Stat never touch the archive), and each Open streams
// the file from the archive, checking its size and SHA-256 as it is read: a
// tampered file fails the Read that reaches its end. The archive is read
// forward; a file behind the cursor comes from a bounded cache of verified
// contents (Limits.CacheSize) or from a new pass through the Opener. With the
// engine's access pattern (deploy.sql, the scan's walk, then the loader's
// non-test files and test files) that is one pass when the project fits the
// cache and three passes otherwise; Bundle.Passes reports it. Decompression
// runs one goroutine ahead of the reader with a fixed buffer. Nothing is
// written to disk and no more than the cache and a few buffers is held.
//
// Verify reads a bundle once and checks all of it (every entry equals the
// manifest, nothing extra, nothing after the end), returning the manifest, the
// signer and the archive's SHA-256. zip bundles (.zip, same layout, manifest
// required) are read from an io.ReaderAt such as an *os.File.
//
// Every rejection is an *Error naming the entry and the rule, with the rule
// as a sentinel for errors.Is: paths (ErrAbsolutePath, ErrDotDot,
// ErrInvalidPath, ErrNotUTF8, ErrPathTooLong, ErrPathTooDeep,
// ErrExcludedPath, ErrReservedPath), entries (ErrLink for symbolic and hard
// links, ErrDevice, ErrEntryType, ErrHeaderTooLarge, ErrHeaderField,
// ErrDuplicate, ErrCaseCollision, ErrFileDirClash), limits (ErrTooManyFiles,
// ErrFileTooLarge, ErrTooLarge, ErrRatio, ErrManifestTooBig), integrity
// (ErrNotBundle, ErrCorrupt, ErrNoManifest, ErrManifest, ErrFormatVersion,
// ErrExtraEntry, ErrMissingEntry, ErrOrder, ErrSizeMismatch,
// ErrDigestMismatch, ErrTrailingData, ErrMissingDeploy) and trust
// (ErrUnsigned, ErrNoTrustedSigners, ErrSignature, ErrNamespace, ErrUntrusted,
// ErrSignerExpired, ErrAllowedSigners). Error.FaultKind is
// fault.DeploySQLMissing for a missing deploy.sql and fault.Config (invalid
// configuration or project) for the rest, so fault.KindOf classifies them;
// none is retryable.
//
// # Fetching
//
// Fetch opens a bundle object through the gocloud.dev/blob portable API:
//
//	s3://bucket/path/app.tgz?region=eu-west-1
//	gs://bucket/path/app.tgz
//	azblob://container/path/app.tgz
//	file:///var/pgmi/bucket/app.tgz   (the bucket is the file's directory)
//	mem://…                           (tests, with FetchOptions.Mux)
//
// Query parameters configure the bucket exactly as gocloud.dev/blob documents
// them, and are never printed. A composition root blank-imports the blob
// drivers it needs; this package imports none. The version the upload event
// named (S3 versionId, GCS generation, Azure ETag) pins every read, including
// the re-reads of later passes, so a second upload cannot change what is
// deployed. Pinning needs driver types, so it goes through VersionPinner
// functions that packages beside the drivers register (RegisterVersionPinner);
// a version on a bucket with no pinner is refused (FetchError with
// gcerrors.Unimplemented) rather than read unpinned. Transient failures
// (gcerrors Unknown, Internal, ResourceExhausted, DeadlineExceeded) are
// retried with exponential backoff, and a read that breaks mid-stream resumes
// from its offset with a range read of the same version. A *FetchError keeps
// the gocloud code: NotFound and PermissionDenied say so, Retryable tells the
// function adapters to let the platform retry, FaultKind is fault.Config
// (bad URL, version, permission), fault.Timeout, fault.Canceled or
// fault.Internal (transient).
package bundle
