package bundle

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// A LimitSetting is one field of Limits as users set it: the environment
// variable that pgmi (bundle, deploy, local) and the functions read, and
// the flag of pgmi bundle. Both sides of a deploy, packing and reading,
// apply the same Limits, so a bundle that packs is one that deploys.
type LimitSetting struct {
	Env   string // PGMI_MAX_RATIO
	Flag  string // max-ratio, for pgmi bundle --max-ratio
	Usage string // what the limit bounds
	Bytes bool   // a size: a number of bytes, or with a KiB, MiB or GiB suffix
	get   func(Limits) int64
	set   func(*Limits, int64)
}

// LimitSettings lists the settable limits. CacheSize is a memory budget,
// not a limit a bundle can break, and is not among them.
func LimitSettings() []LimitSetting {
	return []LimitSetting{
		{"PGMI_MAX_TOTAL_SIZE", "max-total-size", "largest total uncompressed size of the files, zero padding after the archive included", true,
			func(l Limits) int64 { return l.MaxTotalSize }, func(l *Limits, v int64) { l.MaxTotalSize = v }},
		{"PGMI_MAX_FILES", "max-files", "most files in a bundle", false,
			func(l Limits) int64 { return int64(l.MaxFiles) }, func(l *Limits, v int64) { l.MaxFiles = int(v) }},
		{"PGMI_MAX_FILE_SIZE", "max-file-size", "largest file (also the engine's per-file cap)", true,
			func(l Limits) int64 { return l.MaxFileSize }, func(l *Limits, v int64) { l.MaxFileSize = v }},
		{"PGMI_MAX_RATIO", "max-ratio", "highest compression ratio, uncompressed bytes per compressed byte", false,
			func(l Limits) int64 { return l.MaxRatio }, func(l *Limits, v int64) { l.MaxRatio = v }},
		{"PGMI_MAX_PATH_LENGTH", "max-path-length", "longest path, in bytes", false,
			func(l Limits) int64 { return int64(l.MaxPathLength) }, func(l *Limits, v int64) { l.MaxPathLength = int(v) }},
		{"PGMI_MAX_PATH_DEPTH", "max-path-depth", "deepest path, in segments", false,
			func(l Limits) int64 { return int64(l.MaxPathDepth) }, func(l *Limits, v int64) { l.MaxPathDepth = int(v) }},
		{"PGMI_MAX_HEADER_SIZE", "max-header-size", "largest archive entry header", true,
			func(l Limits) int64 { return l.MaxHeaderSize }, func(l *Limits, v int64) { l.MaxHeaderSize = v }},
		{"PGMI_MAX_MANIFEST_SIZE", "max-manifest-size", "largest manifest", true,
			func(l Limits) int64 { return l.MaxManifestSize }, func(l *Limits, v int64) { l.MaxManifestSize = v }},
	}
}

// limitRules maps the rules a bundle breaks by exceeding a limit to the
// limit's variable, so a refusal says what raises it.
var limitRules = map[error]string{
	ErrTooLarge: "PGMI_MAX_TOTAL_SIZE", ErrTooManyFiles: "PGMI_MAX_FILES", ErrFileTooLarge: "PGMI_MAX_FILE_SIZE",
	ErrRatio: "PGMI_MAX_RATIO", ErrPathTooLong: "PGMI_MAX_PATH_LENGTH", ErrPathTooDeep: "PGMI_MAX_PATH_DEPTH",
	ErrHeaderTooLarge: "PGMI_MAX_HEADER_SIZE", ErrManifestTooBig: "PGMI_MAX_MANIFEST_SIZE",
}

func settingOf(rule error) (LimitSetting, bool) {
	env, ok := limitRules[rule]
	if !ok {
		return LimitSetting{}, false
	}
	for _, s := range LimitSettings() {
		if s.Env == env {
			return s, true
		}
	}
	return LimitSetting{}, false
}

// Default is the limit's value when it is not set, as a user writes it.
func (s LimitSetting) Default() string { return s.format(s.get(DefaultLimits)) }

// Set parses value into the limit's field of l. source names where the
// value came from (the variable or the flag) for the error, which is
// fault.Config.
func (s LimitSetting) Set(l *Limits, source, value string) error {
	n, err := s.parse(strings.TrimSpace(value))
	if err != nil {
		want := "a positive whole number"
		if s.Bytes {
			want = "a positive number of bytes, optionally with a KiB, MiB or GiB suffix"
		}
		return fault.Errorf(fault.Config, "invalid %s %q: %s (default %s)", source, value, want, s.Default())
	}
	s.set(l, n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}}

func (s LimitSetting) parse(v string) (int64, error) {
	shift := uint(0)
	if s.Bytes {
		for _, u := range sizeUnits {
			if num, ok := strings.CutSuffix(v, u.suffix); ok {
				v, shift = strings.TrimSpace(num), u.shift
				break
			}
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return 0, err
	case n <= 0 || n > (unlimited>>shift) || (!s.Bytes && n > 1<<31-1):
		return 0, fmt.Errorf("out of range")
	}
	return n << shift, nil
}

func (s LimitSetting) format(n int64) string {
	if s.Bytes {
		for _, u := range sizeUnits {
			if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
				return strconv.FormatInt(n>>u.shift, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

// LimitsFromEnv reads every LimitSetting from env; unset or empty
// variables keep their defaults (zero fields). Errors name the variable.
func LimitsFromEnv(env func(string) (string, bool)) (Limits, error) {
	var l Limits
	for _, s := range LimitSettings() {
		v, _ := env(s.Env)
		if strings.TrimSpace(v) == "" {
			continue
		}
		if err := s.Set(&l, s.Env, v); err != nil {
			return Limits{}, err
		}
	}
	return l, nil
}
