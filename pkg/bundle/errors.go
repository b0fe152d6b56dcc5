package bundle

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// The rules a bundle can break. Every rejection is an *Error whose Rule is one
// of these sentinels, so callers test with errors.Is(err, bundle.ErrLink).
var (
	// Paths.
	ErrAbsolutePath   = errors.New("absolute path")
	ErrDotDot         = errors.New("path escapes the bundle root (\"..\" or \".\" segment)")
	ErrInvalidPath    = errors.New("invalid path (empty segment, backslash, control character or trailing slash)")
	ErrNotUTF8        = errors.New("name is not valid UTF-8")
	ErrPathTooLong    = errors.New("path longer than the limit")
	ErrPathTooDeep    = errors.New("path deeper than the limit")
	ErrExcludedPath   = errors.New("path the engine never loads (hidden, node_modules or __pycache__)")
	ErrDuplicate      = errors.New("duplicate entry")
	ErrCaseCollision  = errors.New("paths differ only in case or Unicode normalization")
	ErrFileDirClash   = errors.New("path is both a file and a directory")
	ErrUnsorted       = errors.New("manifest files are not in bundle order")
	ErrMissingDeploy  = errors.New("no deploy.sql at the bundle root")
	ErrReservedPath   = errors.New("path under .pgmi/ other than the manifest and its signature")
	ErrEntryType      = errors.New("entry is not a regular file")
	ErrLink           = errors.New("links (symbolic or hard) are not allowed")
	ErrDevice         = errors.New("device, fifo or socket entries are not allowed")
	ErrHeaderTooLarge = errors.New("entry header larger than the limit")
	ErrHeaderField    = errors.New("unsupported tar header field")

	// Sizes and counts.
	ErrTooManyFiles   = errors.New("more files than the limit")
	ErrFileTooLarge   = errors.New("file larger than the limit")
	ErrTooLarge       = errors.New("total uncompressed size over the limit")
	ErrRatio          = errors.New("compression ratio over the limit (possible decompression bomb)")
	ErrManifestTooBig = errors.New("manifest larger than the limit")

	// Structure and integrity.
	ErrNotBundle        = errors.New("not a pgmi bundle (gzip-compressed tar or zip expected)")
	ErrCorrupt          = errors.New("archive is corrupt or truncated")
	ErrNoManifest       = errors.New("the archive does not start with .pgmi/manifest.json")
	ErrManifest         = errors.New("invalid manifest")
	ErrFormatVersion    = errors.New("unsupported bundle format version")
	ErrExtraEntry       = errors.New("archive entry not listed in the manifest")
	ErrMissingEntry     = errors.New("manifest entry missing from the archive")
	ErrOrder            = errors.New("archive entries are not in manifest order")
	ErrSizeMismatch     = errors.New("file size differs from the manifest")
	ErrDigestMismatch   = errors.New("file SHA-256 differs from the manifest")
	ErrTrailingData     = errors.New("data after the end of the archive")
	ErrNotFound         = errors.New("no such file in the bundle")
	ErrStreamSuperseded = errors.New("file was superseded by a later Open on the same bundle stream")

	// Signatures and trust.
	ErrUnsigned         = errors.New("bundle is not signed")
	ErrNoTrustedSigners = errors.New("no trusted signers configured")
	ErrSignature        = errors.New("invalid signature")
	ErrUntrusted        = errors.New("signed by a key that is not in the trusted signers")
	ErrNamespace        = errors.New("signature namespace is not " + Namespace)
	ErrSignerExpired    = errors.New("signer key is outside its valid-after/valid-before window")
	ErrAllowedSigners   = errors.New("invalid allowed_signers file")
)

// Error is a rejected bundle: the rule broken, the entry concerned (if any),
// a detail and the underlying cause. errors.Is matches the Rule sentinel and
// the cause; errors.As finds the *Error.
type Error struct {
	Rule   error  // one of the Err* sentinels above
	Entry  string // archive entry or manifest path, "" when the bundle as a whole is at fault
	Detail string // what exactly, e.g. "declared 10 bytes, read 12"
	Err    error  // cause, may be nil
}

func (e *Error) Error() string {
	msg := "bundle"
	if e.Entry != "" {
		msg += " entry " + strconv.Quote(e.Entry)
	}
	msg += ": " + e.Rule.Error()
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if s, ok := settingOf(e.Rule); ok {
		msg += "; the limit is " + s.Env + " (pgmi bundle --" + s.Flag + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes the rule sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Rule}
	}
	return []error{e.Rule, e.Err}
}

// FaultKind classifies the rejection: fault.DeploySQLMissing when deploy.sql
// is missing (as the engine does for a directory), fault.Canceled or
// fault.Timeout for a cancelled or expired context, fault.Config (invalid
// configuration or project) for everything else: a bad, tampered, unsigned
// or untrusted bundle is refused before any server change.
func (e *Error) FaultKind() fault.Kind {
	switch {
	case errors.Is(e.Rule, ErrMissingDeploy):
		return fault.DeploySQLMissing
	case isCanceled(e.Err):
		return fault.Canceled
	case isDeadline(e.Err):
		return fault.Timeout
	}
	return fault.Config
}

func reject(rule error, entry string, format string, args ...any) *Error {
	e := &Error{Rule: rule, Entry: entry}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}

func rejectErr(rule error, entry string, cause error) *Error {
	return &Error{Rule: rule, Entry: entry, Err: cause}
}

func isCanceled(err error) bool { return err != nil && errors.Is(err, context.Canceled) }
func isDeadline(err error) bool { return err != nil && errors.Is(err, context.DeadlineExceeded) }
