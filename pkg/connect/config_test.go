package connect

import (
	"fmt"
	"strings"
	"testing"
)

func TestConfigFormattingNeverPrintsSecrets(t *testing.T) {
	c := &Config{Hosts: []string{"db", "::1", "/tmp"}, Ports: []uint16{5432, 5433}, User: "u", Database: "d",
		Password: "pw-Secret-1", SSL: SSL{Mode: "require", Password: "key-Secret-2", Cert: "/c.pem"}, Auth: "aws"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%10.3s"} {
		for _, v := range []any{c, *c, c.Password, c.SSL, c.SSL.Password, []*Config{c}, map[string]Config{"k": *c}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "Secret") || strings.Contains(out, "7365637265") {
				t.Errorf("%s of %T leaks: %s", verb, v, out)
			}
		}
	}
	s := c.String()
	for _, want := range []string{"db:5432", "[::1]:5433", "/tmp/.s.PGSQL.5432", "user=u", "database=d", "sslmode=require", "auth=aws", "sslcert=/c.pem", "password=[redacted]", "sslpassword=[redacted]"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q: %s", want, s)
		}
	}
	if got := (&Config{}).String(); !strings.Contains(got, "password=unset sslpassword=unset") || !strings.Contains(got, "localhost:5432") {
		t.Errorf("empty config: %s", got)
	}
	if Secret("").String() != "" || Secret("x").String() != "[redacted]" || Secret("x").Reveal() != "x" {
		t.Error("Secret basics")
	}
}

func TestEndpoints(t *testing.T) {
	cases := []struct {
		hosts []string
		ports []uint16
		want  string
	}{
		{nil, nil, "localhost:5432"},
		{[]string{"a", "b"}, []uint16{6000}, "a:6000,b:6000"},
		{[]string{"a", "b"}, []uint16{0, 7000}, "a:5432,b:7000"},
		{[]string{"::1"}, nil, "[::1]:5432"},
		{[]string{"/var/run/postgresql/"}, []uint16{5433}, "/var/run/postgresql/.s.PGSQL.5433"},
	}
	for _, tc := range cases {
		if got := (Config{Hosts: tc.hosts, Ports: tc.ports}).Address(); got != tc.want {
			t.Errorf("Address(%v, %v) = %s, want %s", tc.hosts, tc.ports, got, tc.want)
		}
	}
}
