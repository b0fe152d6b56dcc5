package cloudsql

import (
	"strings"
	"testing"

	"cloud.google.com/go/cloudsqlconn/instance"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func TestCheckInstance(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		why  string // part of the message when refused
	}{
		{"my-project:us-central1:main", true, ""},
		{"example.com:my-project:europe-west4:db-1", true, ""},
		{"a.b.example.org:p1:northamerica-northeast1:x", true, ""},
		{"p9:me-central2:i", true, ""},
		{"", false, "needs the instance connection name"},
		{"main", false, "instance ID alone"},
		{"my-project:main", false, "instance ID alone"},
		{"my-project:us-central1-a:main", false, "not a zone"},
		{"My-Project:us-central1:main", false, "lower-case"},
		{"my_project:us-central1:main", false, "project:region:instance"},
		{"my-project:us-central1:main:extra", false, "project:region:instance"},
		{"example:my-project:us-central1:main", false, "project:region:instance"},
		{"my-project:us-central1:-main", false, "project:region:instance"},
		{"my-project:us-central1:main-", false, "project:region:instance"},
		{"my-project:uscentral:main", false, "project:region:instance"},
		{" my-project:us-central1:main", false, "project:region:instance"},
		{"my-project:us-central1:main\n", false, "project:region:instance"},
	} {
		err := checkInstance(tc.name)
		if tc.ok {
			if err != nil {
				t.Errorf("%q: %v", tc.name, err)
			}
			continue
		}
		if fault.KindOf(err) != fault.Config {
			t.Errorf("%q: %v, want a config error", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%q: message %q lacks %q", tc.name, err, tc.why)
		}
	}
}

func TestParseSettings(t *testing.T) {
	c := &connect.Config{User: "sa@p.iam", AuthSettings: connect.AuthSettings{}.With(SettingInstance, " example.com:proj:us-east1:db ", "").With(SettingIPType, " Private ", "")}
	s, err := parseSettings(c)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{instance: "example.com:proj:us-east1:db", project: "example.com:proj", ipType: "private", user: "sa@p.iam"}
	if s != want {
		t.Fatalf("settings %+v, want %+v", s, want)
	}
}

func TestIPTypes(t *testing.T) {
	for in, want := range map[string]string{"": "public", "public": "public", "PRIVATE": "private", "psc": "psc"} {
		got, err := parseIPType(in)
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"vpc", "auto", "sqldata", "private-ip"} {
		if _, err := parseIPType(bad); fault.KindOf(err) != fault.Config {
			t.Errorf("%q: %v, want a config error", bad, err)
		}
	}
}

func TestCheckUser(t *testing.T) {
	if err := checkUser("deployer@my-project.iam"); err != nil {
		t.Fatal(err)
	}
	if err := checkUser("someone@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := checkUser(""); fault.KindOf(err) != fault.Config {
		t.Fatalf("%v", err)
	}
}

// A service account's e-mail is trimmed to its Cloud SQL IAM user.
func TestIAMUser(t *testing.T) {
	for in, want := range map[string]string{
		"deployer@my-project.iam.gserviceaccount.com": "deployer@my-project.iam",
		"deployer@my-project.iam.GServiceAccount.com": "deployer@my-project.iam",
		"deployer@my-project.iam":                     "deployer@my-project.iam",
		"someone@example.com":                         "someone@example.com",
	} {
		if err := checkUser(in); err != nil {
			t.Errorf("%q: %v", in, err)
		}
		if got := iamUser(in); got != want {
			t.Errorf("iamUser(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every name pgmi accepts, the connector accepts too, with the same parts.
func FuzzCheckInstance(f *testing.F) {
	for _, s := range []string{"my-project:us-central1:main", "example.com:p:r1:i", "a:b:c", "x", "a.b:c:d:e:f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkInstance(name) != nil {
			return
		}
		cn, err := instance.ParseConnName(name)
		if err != nil {
			t.Fatalf("pgmi accepts %q, the connector does not: %v", name, err)
		}
		if cn.String() != name {
			t.Fatalf("the connector reads %q as %q", name, cn.String())
		}
	})
}
