package cloudsql

import (
	"regexp"
	"strings"

	"cloud.google.com/go/cloudsqlconn"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// settings are what the provider takes from connect.Config, checked offline.
type settings struct {
	instance string // project:region:instance, or domain:project:region:instance
	project  string // with its domain, as the Admin API names it
	ipType   string // public, private or psc
	user     string // the IAM database user
}

const serviceAccountSuffix = ".gserviceaccount.com"

// describeHint is how to find an instance's connection name.
const describeHint = "gcloud sql instances describe INSTANCE --format='value(connectionName)' prints it"

var (
	projectPart  = `[a-z][a-z0-9-]*[a-z0-9]`
	domainPart   = `[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+`
	regionPart   = `[a-z]+(?:-[a-z]+)*[0-9]+`
	instancePart = `[a-z](?:[a-z0-9-]*[a-z0-9])?`
	// connectionName is project:region:instance, the project optionally
	// domain-scoped (example.com:project).
	connectionName = regexp.MustCompile(`^(?:` + domainPart + `:)?` + projectPart + `:` + regionPart + `:` + instancePart + `$`)
	zoneLike       = regexp.MustCompile(`^` + regionPart + `-[a-z]$`)
)

// parseSettings reads the method's settings for the provider: the same
// checks as resolution's offline validation, the user being whatever c has.
func parseSettings(c *connect.Config) (settings, error) {
	return parse(c.AuthSettings, c.User, c.User != "")
}

// validate is resolution's offline check (connect.Method.Validate).
func validate(s connect.AuthSettings, c *connect.Config, explicitUser bool) error {
	_, err := parse(s, c.User, explicitUser)
	return err
}

// parse checks the instance, the IP type and the user; named says whether
// a source named the user (not the OS account).
func parse(as connect.AuthSettings, user string, named bool) (settings, error) {
	s := settings{instance: strings.TrimSpace(as.Get(SettingInstance)), user: user}
	if err := checkInstanceFrom(s.instance, as.Source(SettingInstance)); err != nil {
		return settings{}, err
	}
	parts := strings.Split(s.instance, ":")
	s.project = strings.Join(parts[:len(parts)-2], ":")
	var err error
	if s.ipType, err = parseIPTypeFrom(as.Get(SettingIPType), as.Source(SettingIPType)); err != nil {
		return settings{}, err
	}
	if !named {
		s.user = ""
	}
	if err := checkUser(s.user); err != nil {
		return settings{}, err
	}
	s.user = iamUser(s.user)
	return s, nil
}

// checkInstance accepts an instance connection name: project:region:instance,
// or domain:project:region:instance for a domain-scoped project.
func checkInstance(name string) error { return checkInstanceFrom(name, "") }

// in names the source of a value in a message, when it is known.
func in(source string) string {
	if source == "" {
		return ""
	}
	return " in " + source
}

func checkInstanceFrom(name, source string) error {
	if name == "" {
		return connect.Missing(title+" needs the instance connection name: pass --google-instance project:region:instance ("+describeHint+")",
			title+" needs the instance: set PGMI_GOOGLE_INSTANCE to its connection name, project:region:instance")
	}
	if connectionName.MatchString(name) {
		return nil
	}
	parts := strings.Split(name, ":")
	why := ""
	switch {
	case len(parts) < 3:
		why = "; this looks like an instance ID alone, not its connection name"
	case name != strings.ToLower(name):
		why = "; connection names are lower-case"
	case zoneLike.MatchString(parts[len(parts)-2]):
		why = "; the middle part is a region such as us-central1, not a zone"
	}
	return fault.Errorf(fault.Config, "invalid Cloud SQL instance %q%s: expected the instance connection name project:region:instance (example.com:project:region:instance for a domain-scoped project)%s; %s", clip(name), in(source), why, describeHint)
}

// parseIPType reads the IP type setting: public (also ""), private or psc.
func parseIPType(t string) (string, error) { return parseIPTypeFrom(t, "") }

func parseIPTypeFrom(t, source string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(t)); v {
	case "", IPPublic:
		return IPPublic, nil
	case IPPrivate, IPPSC:
		return v, nil
	}
	return "", fault.Errorf(fault.Config, "invalid Cloud SQL IP type %q%s: use public, private or psc", clip(t), in(source))
}

func ipOption(t string) cloudsqlconn.DialOption {
	switch t {
	case IPPrivate:
		return cloudsqlconn.WithPrivateIP()
	case IPPSC:
		return cloudsqlconn.WithPSC()
	}
	return cloudsqlconn.WithPublicIP()
}

// checkUser requires the IAM database user.
func checkUser(user string) error {
	if user == "" {
		return connect.Missing(title+" needs the IAM database user: pass -U/--username (a service account's user is its e-mail without "+serviceAccountSuffix+", such as deployer@my-project.iam; a Google account's is its e-mail)",
			title+" needs the IAM database user (for a service account, its e-mail without "+serviceAccountSuffix+"): set PGUSER")
	}
	return nil
}

// iamUser is the database user of -U: Cloud SQL names a service account's
// user after its e-mail without .gserviceaccount.com, so a service
// account's full e-mail (as in -U $SA_EMAIL) is trimmed to it.
func iamUser(user string) string {
	trimmed, _ := cutSuffixFold(user, serviceAccountSuffix)
	return trimmed
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// clip keeps a value quoted in a message short.
func clip(s string) string {
	const limit = 120
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
