package bundle

import "github.com/pgmi-cloud/pgmi/pkg/engine"

// Limits bound what a reader accepts. A zero field takes its default from
// DefaultLimits; a negative field means no limit (never do that for bundles
// from a bucket).
type Limits struct {
	MaxTotalSize    int64 // sum of the files' uncompressed sizes (default 1 GiB)
	MaxFiles        int   // number of files (default 100,000)
	MaxFileSize     int64 // one file (default engine.DefaultMaxFileSize, 10 MiB)
	MaxRatio        int64 // uncompressed bytes per compressed byte over the whole stream (default 200)
	MaxPathLength   int   // bytes in a path (default 1024)
	MaxPathDepth    int   // segments in a path (default 32)
	MaxHeaderSize   int64 // bytes of one entry's headers, PAX records included (default 16 KiB)
	MaxManifestSize int64 // bytes of .pgmi/manifest.json (default 32 MiB)
	CacheSize       int64 // bytes of verified file contents an opened bundle keeps to avoid re-reading (default 16 MiB; negative disables)
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxTotalSize:    1 << 30,
	MaxFiles:        100_000,
	MaxFileSize:     engine.DefaultMaxFileSize,
	MaxRatio:        200,
	MaxPathLength:   1024,
	MaxPathDepth:    32,
	MaxHeaderSize:   16 << 10,
	MaxManifestSize: 32 << 20,
	CacheSize:       16 << 20,
}

// ratioGrace is how many uncompressed bytes are read before the compression
// ratio is enforced: tiny archives of tar padding compress far beyond any
// sane ratio without being bombs.
const ratioGrace = 1 << 20

// sigMaxSize bounds .pgmi/manifest.sig; an armored SSH signature is a few KiB
// even for 16k-bit RSA keys.
const sigMaxSize = 64 << 10

const unlimited = 1<<63 - 1

// withDefaults fills zero fields and turns negative ones into "no limit".
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	l.MaxTotalSize = pick64(l.MaxTotalSize, d.MaxTotalSize)
	l.MaxFileSize = pick64(l.MaxFileSize, d.MaxFileSize)
	l.MaxRatio = pick64(l.MaxRatio, d.MaxRatio)
	l.MaxHeaderSize = pick64(l.MaxHeaderSize, d.MaxHeaderSize)
	l.MaxManifestSize = pick64(l.MaxManifestSize, d.MaxManifestSize)
	l.MaxFiles = int(pick64(int64(l.MaxFiles), int64(d.MaxFiles)))
	l.MaxPathLength = int(pick64(int64(l.MaxPathLength), int64(d.MaxPathLength)))
	l.MaxPathDepth = int(pick64(int64(l.MaxPathDepth), int64(d.MaxPathDepth)))
	switch {
	case l.CacheSize == 0:
		l.CacheSize = d.CacheSize
	case l.CacheSize < 0:
		l.CacheSize = 0
	}
	return l
}

func pick64(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return unlimited
	}
	return v
}
