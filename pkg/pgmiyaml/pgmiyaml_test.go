package pgmiyaml

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func TestParse(t *testing.T) {
	f, err := Parse([]byte("connection:\n  host: db\n  port: 6543\n  auth_method: aws\nparams:\n  env: prod\n  n: 1\ntimeout: 90s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Connection.Host != "db" || f.Connection.Port != 6543 || f.Connection.AuthMethod != "aws" {
		t.Errorf("connection = %+v", f.Connection)
	}
	if d, _ := f.TimeoutDuration(); d != 90*time.Second {
		t.Errorf("timeout = %v", d)
	}
	if f.Params["n"] != "1" || f.Params["env"] != "prod" || len(f.Params) != 2 {
		t.Errorf("params = %v", f.Params)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"secret key":        "connection:\n  password: hunter2\n",
		"unknown top level": "overwrite: true\n",
		"bad timeout":       "timeout: soon\n",
		"negative timeout":  "timeout: -5s\n",
		"not a map":         "- a\n- b\n",
	} {
		_, err := Parse([]byte(doc))
		if fault.KindOf(err) != fault.Config {
			t.Errorf("%s: err = %v, want a configuration error", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the secret is echoed: %v", name, err)
		}
	}
}

func TestLoadMissingAndEmpty(t *testing.T) {
	if f, err := Load(fstest.MapFS{}); err != nil || !f.Connection.IsZero() {
		t.Errorf("missing file: %+v, %v", f, err)
	}
	if _, err := Load(fstest.MapFS{FileName: {Data: nil}}); err != nil {
		t.Errorf("empty file: %v", err)
	}
}
