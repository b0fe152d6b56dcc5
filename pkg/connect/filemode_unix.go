//go:build unix

package connect

import (
	"os"
	"syscall"
)

// keyFileTooOpen applies libpq's rule to a private key file: u=rw (0600) or
// less when the current user owns it, u=rw,g=r (0640) or less when root does.
func keyFileTooOpen(fi os.FileInfo) bool {
	perm := fi.Mode().Perm()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == 0 && os.Geteuid() != 0 {
		return perm&0o037 != 0
	}
	return perm&0o077 != 0
}
