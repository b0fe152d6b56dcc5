//go:build !unix

package connect

import "os"

// keyFileTooOpen has no permission bits to check on this platform.
func keyFileTooOpen(os.FileInfo) bool { return false }
