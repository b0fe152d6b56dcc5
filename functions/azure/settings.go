package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// settings are what this adapter reads at cold start on top of the
// deployer's own configuration (pkg/deploy).
type settings struct {
	// addr is 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT, where the host sends
	// invocations.
	addr string
	// resetDatabase is the database the Reset timer resets
	// (PGMI_RESET_DATABASE); "" means the timer has nothing to do.
	resetDatabase string
	// resetBundle is the azblob:// URL the reset redeploys
	// (PGMI_RESET_BUNDLE); "" means the last bundle the database's ledger
	// recorded as deployed.
	resetBundle string
	// account is the storage account the bundles live in; events from any
	// other account are ignored.
	account string
	// functionTimeout is host.json's functionTimeout (or the app setting
	// that overrides it), the time the host gives an invocation before it
	// restarts the worker; 0 when unknown or unbounded. It is each
	// invocation's deadline unless PGMI_TIMEOUT is set.
	functionTimeout time.Duration
	// functionTimeoutSetting names where functionTimeout came from.
	functionTimeoutSetting string
	// pgmiTimeout reports that PGMI_TIMEOUT is set, which then bounds every
	// invocation instead of functionTimeout.
	pgmiTimeout bool
	// warnings are problems worth a line at cold start that do not stop it.
	warnings []string
}

// Names of the settings this file reads.
const (
	envPort          = "FUNCTIONS_CUSTOMHANDLER_PORT"
	envResetDatabase = "PGMI_RESET_DATABASE"
	envResetBundle   = "PGMI_RESET_BUNDLE"
	envAccount       = "AZURE_STORAGE_ACCOUNT"
	hostJSONFile     = "host.json"
	// envFunctionTimeout is the app setting that overrides host.json's
	// functionTimeout (the host reads AzureFunctionsJobHost__<path> as
	// host.json's <path>).
	envFunctionTimeout = "AzureFunctionsJobHost__functionTimeout"
)

// loadSettings reads the adapter's settings from env and the host.json in
// dir (the function app's root, the handler's working directory). Every
// error names the setting to fix.
func loadSettings(env connect.Env, dir string) (*settings, error) {
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	s := &settings{resetDatabase: get(envResetDatabase), pgmiTimeout: get("PGMI_TIMEOUT") != ""}
	var err error
	if s.addr, err = listenAddr(get(envPort)); err != nil {
		return nil, err
	}
	if s.resetBundle, err = resetBundle(get(envResetBundle)); err != nil {
		return nil, err
	}
	if s.account, err = storageAccount(get); err != nil {
		return nil, err
	}
	s.functionTimeout, s.functionTimeoutSetting = functionTimeout(get(envFunctionTimeout), dir, &s.warnings)
	return s, nil
}

// functionTimeout is the host's time limit per invocation and the setting
// that gives it: the app setting when set, else host.json's. A value that
// cannot be read gives 0 and a warning: the host, not this handler, is the
// judge of its settings.
func functionTimeout(appSetting, dir string, warnings *[]string) (time.Duration, string) {
	if appSetting != "" {
		d, err := parseTimeSpan(appSetting)
		if err != nil {
			*warnings = append(*warnings, fmt.Sprintf("%s: %v; invocations are bounded by PGMI_TIMEOUT only", envFunctionTimeout, err))
			return 0, envFunctionTimeout
		}
		return d, envFunctionTimeout
	}
	d, err := readFunctionTimeout(dir)
	if err != nil {
		*warnings = append(*warnings, err.Error())
	}
	return d, hostJSONFile + " functionTimeout"
}

// limit is the time limit PGMI_TIMEOUT_MARGIN is taken from: the host's
// functionTimeout, unless PGMI_TIMEOUT replaces it as the deadline.
func (s *settings) limit() internal.Limit {
	if s.pgmiTimeout {
		return internal.Limit{}
	}
	return internal.Limit{Timeout: s.functionTimeout, Setting: s.functionTimeoutSetting}
}

// listenAddr is the loopback address the host reaches the handler on.
func listenAddr(port string) (string, error) {
	if port == "" {
		return "", fmt.Errorf("%s is not set: the Functions host sets it when it starts the custom handler; to run the handler by hand, set it to a free TCP port", envPort)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%s=%q is not a TCP port (1-65535)", envPort, port)
	}
	return "127.0.0.1:" + strconv.Itoa(n), nil
}

// resetBundle checks PGMI_RESET_BUNDLE: an azblob://<container>/<blob> URL
// without query parameters (endpoints go in PGMI_BUCKET_URL_PARAMS).
func resetBundle(u string) (string, error) {
	if u == "" {
		return "", nil
	}
	_, _, err := deploy.SplitBundleURL(u)
	if err != nil || !strings.HasPrefix(u, "azblob://") {
		return "", fmt.Errorf("%s=%q is not a blob URL: want azblob://<container>/<blob>", envResetBundle, u)
	}
	if strings.ContainsAny(u, "?#") {
		return "", fmt.Errorf("%s=%q has query parameters: name the blob only, and put endpoint parameters in PGMI_BUCKET_URL_PARAMS", envResetBundle, u)
	}
	return u, nil
}

// storageAccount finds the account gocloud's azureblob driver reads the
// bundles from: AZURE_STORAGE_ACCOUNT, else the AccountName of a storage
// connection string, else storage_account in PGMI_BUCKET_URL_PARAMS.
func storageAccount(get func(string) string) (string, error) {
	if a := get(envAccount); a != "" {
		return a, nil
	}
	for _, k := range []string{"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGEBLOB_CONNECTIONSTRING"} {
		for part := range strings.SplitSeq(get(k), ";") {
			if name, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(name, "AccountName") && v != "" {
				return v, nil
			}
		}
	}
	if q, err := url.ParseQuery(get("PGMI_BUCKET_URL_PARAMS")); err == nil && q.Get("storage_account") != "" {
		return q.Get("storage_account"), nil
	}
	return "", fmt.Errorf("%s is not set: name the storage account that holds the bundles (or set AZURE_STORAGE_CONNECTION_STRING)", envAccount)
}

// readFunctionTimeout reads functionTimeout from dir/host.json. A missing
// file or setting, or -1 (unbounded), gives 0. A file that cannot be read
// gives 0 and an error to log as a warning: the host, not this handler, is
// the judge of host.json.
func readFunctionTimeout(dir string) (time.Duration, error) {
	raw, err := os.ReadFile(dir + string(os.PathSeparator) + hostJSONFile)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read %s, so invocations are bounded by PGMI_TIMEOUT only: %v", hostJSONFile, err)
	}
	var host struct {
		FunctionTimeout *string `json:"functionTimeout"`
	}
	if err := json.Unmarshal(raw, &host); err != nil {
		return 0, fmt.Errorf("cannot parse %s, so invocations are bounded by PGMI_TIMEOUT only: %v", hostJSONFile, err)
	}
	if host.FunctionTimeout == nil {
		return 0, nil
	}
	d, err := parseTimeSpan(*host.FunctionTimeout)
	if err != nil {
		return 0, fmt.Errorf("%s functionTimeout: %v; invocations are bounded by PGMI_TIMEOUT only", hostJSONFile, err)
	}
	return d, nil
}

// parseTimeSpan reads a .NET TimeSpan as host.json writes functionTimeout:
// [d.]hh:mm:ss[.fff], or -1 for no limit (returned as 0).
func parseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "-1" || s == "-1.00:00:00" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a time span [d.]hh:mm:ss", s)
	var days int
	rest := s
	if d, r, ok := strings.Cut(s, "."); ok && !strings.Contains(d, ":") {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, bad
		}
		days, rest = n, r
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return 0, bad
	}
	h, herr := strconv.Atoi(parts[0])
	m, merr := strconv.Atoi(parts[1])
	sec, serr := time.ParseDuration(parts[2] + "s")
	if herr != nil || merr != nil || serr != nil || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec >= time.Minute ||
		strings.HasPrefix(parts[2], "+") {
		return 0, bad
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + sec
	if d <= 0 {
		return 0, bad
	}
	return d, nil
}
