package connect

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// parsed is the comparable part of a Config for table tests.
type parsed struct {
	Hosts    []string
	Ports    []uint16
	User     string
	Password string
	Database string
	SSL      SSL
	App      string
	Timeout  time.Duration
	Params   map[string]string
}

func view(c *Config) parsed {
	p := parsed{c.Hosts, c.Ports, c.User, c.Password.Reveal(), c.Database, c.SSL, c.ApplicationName, c.ConnectTimeout, c.Params}
	p.SSL.Password = ""
	return p
}

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := ParseConnString(s)
	if err != nil {
		t.Fatalf("ParseConnString(%q): %v", s, err)
	}
	return c
}

func TestParseURI(t *testing.T) {
	cases := []struct {
		in   string
		want parsed
	}{
		{"postgresql://deployer:secret@db.example.com:5432/postgres",
			parsed{Hosts: []string{"db.example.com"}, Ports: []uint16{5432}, User: "deployer", Password: "secret", Database: "postgres"}},
		{"postgres://u@h/db", parsed{Hosts: []string{"h"}, User: "u", Database: "db"}},
		{"postgresql://", parsed{}},
		{"POSTGRESQL://h", parsed{Hosts: []string{"h"}}},
		{"postgresql://u:p@ss@word@h/db", parsed{Hosts: []string{"h"}, User: "u", Password: "p@ss@word", Database: "db"}},
		{"postgresql://:secret@h", parsed{Hosts: []string{"h"}, Password: "secret"}},
		{"postgresql://u:%2Fa%3Fb%25@h", parsed{Hosts: []string{"h"}, User: "u", Password: "/a?b%"}},
		{"postgresql://u:a+b@h", parsed{Hosts: []string{"h"}, User: "u", Password: "a+b"}},
		{"postgresql://[::1]:5433/db", parsed{Hosts: []string{"::1"}, Ports: []uint16{5433}, Database: "db"}},
		{"postgresql://[2001:db8::7]/db", parsed{Hosts: []string{"2001:db8::7"}, Database: "db"}},
		{"postgresql://%2Fvar%2Frun%2Fpostgresql/db", parsed{Hosts: []string{"/var/run/postgresql"}, Database: "db"}},
		{"postgresql:///db?host=/tmp/sock&port=6000", parsed{Hosts: []string{"/tmp/sock"}, Ports: []uint16{6000}, Database: "db"}},
		{"postgresql://h1:5432,h2:5433/db", parsed{Hosts: []string{"h1", "h2"}, Ports: []uint16{5432, 5433}, Database: "db"}},
		{"postgresql://h1,h2:5433/db", parsed{Hosts: []string{"h1", "h2"}, Ports: []uint16{0, 5433}, Database: "db"}},
		{"postgresql://h/my%20db", parsed{Hosts: []string{"h"}, Database: "my db"}},
		{"postgresql://h/db?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&sslpassword=pp",
			parsed{Hosts: []string{"h"}, Database: "db", SSL: SSL{Mode: "verify-full", RootCert: "/ca.pem", Cert: "/c.pem", Key: "/k.pem"}}},
		{"postgresql://h?SSLMODE=require&ApplicationName=app&ConnectTimeout=7",
			parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "require"}, App: "app", Timeout: 7 * time.Second}},
		{"postgresql://h?ssl=true", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "require"}}},
		{"postgresql://h?search_path=app,public&options=-c%20work_mem%3D8MB&target_session_attrs=read-write&keepalives=1",
			parsed{Hosts: []string{"h"}, Params: map[string]string{"search_path": "app,public", "options": "-c work_mem=8MB", "target_session_attrs": "read-write"}}},
		{"postgresql://h?application_name=a&fallback_application_name=b", parsed{Hosts: []string{"h"}, App: "a"}},
		{"postgresql://h?fallback_application_name=b", parsed{Hosts: []string{"h"}, App: "b"}},
		{"postgresql://h?sslnegotiation=direct&sslsni=0&ssl_min_protocol_version=TLSv1.3",
			parsed{Hosts: []string{"h"}, SSL: SSL{Negotiation: "direct", SNI: "0", MinProtocol: "TLSv1.3"}}},
		{"postgresql://u@h/db?user=other&dbname=x", parsed{Hosts: []string{"h"}, User: "other", Database: "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got := view(mustParse(t, tc.in))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func TestParseURISSLPasswordIsKept(t *testing.T) {
	c := mustParse(t, "postgresql://h?sslpassword=key%20pass")
	if c.SSL.Password.Reveal() != "key pass" {
		t.Errorf("sslpassword = %q", c.SSL.Password.Reveal())
	}
}

func TestParseKV(t *testing.T) {
	cases := []struct {
		in   string
		want parsed
	}{
		{"host=h port=5433 dbname=db user=u password=secret",
			parsed{Hosts: []string{"h"}, Ports: []uint16{5433}, User: "u", Password: "secret", Database: "db"}},
		{"host = h   dbname = 'my db'  password='it''s'", parsed{}},
		{`password='a\'b\\c d' host=/tmp`, parsed{Hosts: []string{"/tmp"}, Password: `a'b\c d`}},
		{`password=a\ b host=h`, parsed{Hosts: []string{"h"}, Password: "a b"}},
		{"host=::1 sslmode=require connect_timeout=10", parsed{Hosts: []string{"::1"}, SSL: SSL{Mode: "require"}, Timeout: 10 * time.Second}},
		{"host=h1,h2 port=5432,5433", parsed{Hosts: []string{"h1", "h2"}, Ports: []uint16{5432, 5433}}},
		{"host=h search_path=app application_name=x requiressl=1", parsed{Hosts: []string{"h"}, App: "x", SSL: SSL{Mode: "require"}, Params: map[string]string{"search_path": "app"}}},
		{"host=h user=", parsed{Hosts: []string{"h"}}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseConnString(tc.in)
			if tc.in == "host = h   dbname = 'my db'  password='it''s'" {
				// libpq has no doubled-quote escape: 'it' then 's' is a second, malformed pair.
				if err == nil {
					t.Fatalf("parsed %+v, want an error", view(c))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := view(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func TestParseADO(t *testing.T) {
	cases := []struct {
		in   string
		want parsed
	}{
		{"Host=db.example.com;Port=5432;Database=postgres;Username=deployer;Password=secret",
			parsed{Hosts: []string{"db.example.com"}, Ports: []uint16{5432}, User: "deployer", Password: "secret", Database: "postgres"}},
		{"Server=h;User Id=u;Pwd=p;Initial Catalog=db", parsed{Hosts: []string{"h"}, User: "u", Password: "p", Database: "db"}},
		{"Data Source=h;UID=u;PSW=p;DB=db", parsed{Hosts: []string{"h"}, User: "u", Password: "p", Database: "db"}},
		{"host=h;user name=u;UserId=v", parsed{Hosts: []string{"h"}, User: "v"}},
		{"Host=h;Password='a;b=c'", parsed{Hosts: []string{"h"}, Password: "a;b=c"}},
		{`Host=h;Password="say ""hi"";"`, parsed{Hosts: []string{"h"}, Password: `say "hi";`}},
		{`Host=h;Password='it''s'`, parsed{Hosts: []string{"h"}, Password: "it's"}},
		{" Host = h ; Port = 5433 ; ", parsed{Hosts: []string{"h"}, Ports: []uint16{5433}}},
		{"Host=h;SSL Mode=Require", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "require"}}},
		{"Host=h;SslMode=VerifyFull", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "verify-full"}}},
		{"Host=h;sslmode=verify-ca", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "verify-ca"}}},
		{"Host=h;SSL Mode=VerifyCA;Root Certificate=/ca;SSL Certificate=/c;SSL Key=/k;SSL Password=pp",
			parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "verify-ca", RootCert: "/ca", Cert: "/c", Key: "/k"}}},
		{"Host=h;SSL Mode=Disable", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "disable"}}},
		{"Host=h;SSL Mode=allow", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "allow"}}},
		{"Host=h;SSL Mode=PREFER", parsed{Hosts: []string{"h"}, SSL: SSL{Mode: "prefer"}}},
		{"Host=h;sslcert=/c;ssl key=/k;SSL Root Cert=/r", parsed{Hosts: []string{"h"}, SSL: SSL{Cert: "/c", Key: "/k", RootCert: "/r"}}},
		{"Host=h;Timeout=15;Application Name=app;ApplicationName=app2",
			parsed{Hosts: []string{"h"}, Timeout: 15 * time.Second, App: "app2"}},
		{"Host=h;Search Path=app,public;Timezone=UTC;Options=-c x=1;Target Session Attributes=ReadWrite;Channel Binding=Require",
			parsed{Hosts: []string{"h"}, Params: map[string]string{"search_path": "app,public", "TimeZone": "UTC", "options": "-c x=1", "target_session_attrs": "read-write", "channel_binding": "require"}}},
		{"Host=h;Pooling=false;Maximum Pool Size=20;Command Timeout=30;Include Error Detail=true;Trust Server Certificate=true;Keepalive=10",
			parsed{Hosts: []string{"h"}}},
		{"Host=h1:5433,[::1]:5434,h3;Port=6000", parsed{Hosts: []string{"h1", "::1", "h3"}, Ports: []uint16{5433, 5434, 6000}}},
		{"Host=::1;Port=5433", parsed{Hosts: []string{"::1"}, Ports: []uint16{5433}}},
		{"Host=/var/run/postgresql;Database=db", parsed{Hosts: []string{"/var/run/postgresql"}, Database: "db"}},
		{"Host=a;Host=b", parsed{Hosts: []string{"b"}}},
		{"Host=h;Key==Odd=1;", nil_parsed},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseConnString(tc.in)
			if reflect.DeepEqual(tc.want, nil_parsed) {
				if err == nil || !strings.Contains(err.Error(), `"Key=Odd"`) {
					t.Fatalf("want an unknown-key error naming Key=Odd, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := view(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

var nil_parsed = parsed{App: "\x00"}

func TestDetectFormat(t *testing.T) {
	cases := map[string]Format{
		"postgresql://h":        FormatURI,
		"postgres://h":          FormatURI,
		"host=h dbname=d":       FormatKV,
		"search_path=x host=h":  FormatKV,
		"Host=h":                FormatADO,
		"Server=h":              FormatADO,
		"host=h;port=1":         FormatADO,
		"User Id=u":             FormatADO,
		"  dbname=d  ":          FormatKV,
		"Host=h;Password=a b c": FormatADO,
	}
	for in, want := range cases {
		if got, err := DetectFormat(in); err != nil || got != want {
			t.Errorf("DetectFormat(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "   ", "mysql://h", "just words"} {
		if _, err := DetectFormat(in); err == nil || fault.KindOf(err) != fault.Config {
			t.Errorf("DetectFormat(%q) = %v, want a KindConfig error", in, err)
		}
	}
}

// Every parse error is KindConfig and never shows the password.
func TestParseErrorsAreConfigAndRedacted(t *testing.T) {
	const pw = "Sup3rSecretPw"
	cases := []struct{ in, want string }{
		{"postgresql://:" + pw + "@host:abc/db", "invalid port"},
		{"postgresql://u:" + pw + "@host:99999/db", "invalid port"},
		{"postgresql://u:" + pw + "%zz@host/db", "percent-encoding in the password"},
		{"postgresql://user:" + pw + "/x@host/db", "percent-encode"},
		{"postgresql://u:" + pw + "@[::1/db", "closing ]"},
		{"postgresql://u:" + pw + "@::1/db", "in brackets"},
		{"postgresql://u:" + pw + "@h/db?sslmode=sometimes", "invalid sslmode"},
		{"postgresql://u:" + pw + "@h/db?connect_timeout=five", "connect_timeout"},
		{"postgresql://u:" + pw + "@h/db?service=x", "service files"},
		{"postgresql://u:" + pw + "@h/db?nokey", "without '='"},
		{"host=h password='" + pw, "not closed"},
		{"host=h password=" + pw + " port=x", "invalid port"},
		{"host=h password=" + pw + " hostaddr=1.2.3.4", "hostaddr"},
		{"Host=h;Password=" + pw + ";Port=abc", "invalid port"},
		{"Host=h;Password=" + pw + ";Timeout=abc", "connect_timeout"},
		{"Host=h;Password=" + pw + ";SSL Mode=Sometimes", "SSL Mode"},
		{"Host=h;Password=" + pw[:5] + ";" + pw[5:] + "=x", "unknown key after a password"},
		{"Host=h;Bogus Key=1;Password=" + pw, "unknown key \"Bogus Key\""},
		{"Host=h;Password='" + pw, "not closed"},
		{"Host=h;Password='" + pw + "'junk;", "after a quoted value"},
		{"Host=h;Password=" + pw + ";novalue;", "no '='"},
		{"Host=h;Password=" + pw + ";GSS Encryption Mode=Require", "GSS Encryption Mode"},
		{"postgresql://u:" + pw + "@h/db\x00", "NUL"},
		// An unquoted password with a space: what follows may be its tail,
		// so no key or value after it is echoed; the item is named by its
		// position and what it is.
		{"host=h password=" + pw[:5] + " " + pw[5:] + "!x=1", "item 3"},
		{"host=h password=" + pw[:5] + " " + pw[5:] + "!x=1", "single-quote"},
		{"host=h password=" + pw[:5] + " sslmode=" + pw[5:], "sslmode"},
		{"host=h password=" + pw[:5] + " port=" + pw[5:], "port"},
		{"host=h password=" + pw[:5] + " connect_timeout=" + pw[5:], "connect_timeout"},
		{"host=h password=" + pw[:5] + " " + pw[5:] + "='x", "not closed"},
		{"host=h password=" + pw[:5] + " " + pw[5:] + "=x hostaddr=1", "hostaddr"},
		{"Host=h;Password=" + pw[:5] + ";SSL Mode=" + pw[5:], "SSL Mode"},
		{"Host=h;Password=" + pw[:5] + ";Timeout=" + pw[5:], "Timeout"},
		{"Host=h;Password=" + pw[:5] + ";Port=1;Timeout=" + pw[5:], "Timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := ParseConnString(tc.in)
			if err == nil {
				t.Fatalf("no error for %q", tc.in)
			}
			if fault.KindOf(err) != fault.Config {
				t.Errorf("kind %v, want config", fault.KindOf(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			for _, frag := range []string{pw, pw[:5], pw[5:]} {
				if strings.Contains(err.Error(), frag) {
					t.Errorf("error shows the secret fragment %q: %s", frag, err)
				}
			}
		})
	}
}

func TestUnknownADOKeyListsAcceptedKeys(t *testing.T) {
	_, err := ParseConnString("Host=h;Colour=blue")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"Colour"`, "Host (Server, Data Source)", "SSL Mode", "Root Certificate", "Username"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %s", want, err)
		}
	}
}

// A libpq keyword/value string whose password holds a ';' stays keyword/value
// (a ';' inside single quotes, or after other keyword/value pairs, is part of
// a value), so the password parses whole; and when a string like it is read
// as ADO.NET after all, no key after a value holding "password=" is shown.
func TestKVPasswordWithSemicolonNeverInError(t *testing.T) {
	const tail = "Secr3tTail"
	for in, want := range map[string]string{
		"host=db user=app password='Pa55;" + tail + "=1' dbname=app": "Pa55;" + tail + "=1",
		"host=db user=app password=Pa55;" + tail + " dbname=app":     "Pa55;" + tail,
	} {
		if f, err := DetectFormat(in); err != nil || f != FormatKV {
			t.Errorf("DetectFormat(%s) = %v, %v; want keyword/value", in, f, err)
		}
		c, err := ParseConnString(in)
		if err != nil {
			if strings.Contains(err.Error(), tail) {
				t.Errorf("%s\nerror shows part of the password: %v", in, err)
			}
			t.Fatalf("%s: %v", in, err)
		}
		if c.Password.Reveal() != want || c.Database != "app" || c.User != "app" {
			t.Errorf("%s: password %q, user %q, database %q", in, c.Password.Reveal(), c.User, c.Database)
		}
	}
	_, err := ParseConnString("Host=db password=Pa55;" + tail + "=1")
	if err == nil || strings.Contains(err.Error(), tail) {
		t.Errorf("want an error that does not show part of the password, got %v", err)
	}
}

// ADO.NET: an item after an unquoted Password is never shown in an error,
// even when that Password is a duplicate that a later one replaces.
func TestADODuplicatePasswordTailNeverInError(t *testing.T) {
	const tail = "Secr3tTail"
	_, err := ParseConnString("Host=h;Password=Pa55;" + tail + "=1;Password=other")
	if err == nil || strings.Contains(err.Error(), tail) {
		t.Errorf("want an error that does not show part of the password, got %v", err)
	}
}

// URI: a password holding an unencoded '?' (or '/') ends the authority early;
// the '@' that follows is refused with a fixed message, so the rest of the
// password is never read as a query key or value and shown.
func TestURIPasswordWithQuestionMarkNeverInError(t *testing.T) {
	const tail = "Secr3t!Tail"
	for _, in := range []string{
		"postgresql://app:Pa55?" + tail + "=1@db.example.com/app",
		"postgresql://app:Pa55?sslmode=" + tail + "@db.example.com/app",
		"postgresql://app:5432/" + tail + "@db.example.com/app",
	} {
		_, err := ParseConnString(in)
		if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), "percent-encode") {
			t.Errorf("%s: want a config error saying to percent-encode, got %v", in, err)
		}
		if err != nil && strings.Contains(err.Error(), tail) {
			t.Errorf("%s\nerror shows part of the password: %v", in, err)
		}
	}
}

// FuzzParseConnString: the parser never panics, an error is always
// KindConfig, and a password that went in never comes out in an error.
func FuzzParseConnString(f *testing.F) {
	for _, seed := range []string{
		"postgresql://u:p@h:5432/db?sslmode=require", "postgres://[::1]:5/d", "postgresql://", "postgresql://%",
		"postgresql://:pw@h", "postgresql://a,b:1,[::1]/x?host=/tmp&ssl=true", "host=h port=1 password='x\\'y'",
		"Host=h;Password='a;b';SSL Mode=VerifyFull", ";;;", "Host=", "Host=h;Key==x", "a=b=c", "x", "=;=",
		`Host="a""b"`, "host='", "Host=h1:1,[::1]:2,/tmp;Port=3",
	} {
		f.Add(seed, "Pw9xQ")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		for _, in := range []string{s, strings.ReplaceAll(s, "p", pw)} {
			c, err := ParseConnString(in)
			if err != nil {
				if fault.KindOf(err) != fault.Config {
					t.Fatalf("kind %v for %q: %v", fault.KindOf(err), in, err)
				}
				continue
			}
			_ = c.String()
			_ = c.Endpoints()
		}
		if len(pw) < 4 || strings.ContainsAny(pw, "%;'\"\\@:/?&=, \t\r\n\x00[]") || strings.Contains(s, pw) {
			return
		}
		for _, in := range []string{
			"postgresql://:" + pw + "@" + s, "postgresql://u:" + pw + "@h:" + s, "postgresql://u:" + pw + "@" + s + "/db",
			"Host=h;Password=" + pw + ";" + s, "host=h password=" + pw + " " + s,
		} {
			if _, err := ParseConnString(in); err != nil && strings.Contains(err.Error(), pw) {
				t.Fatalf("error for %q shows the password: %v", in, err)
			}
		}
	})
}
