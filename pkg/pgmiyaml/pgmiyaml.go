// Package pgmiyaml reads pgmi.yaml, a project's optional settings file.
//
// The file is decoded strictly: an unknown key (including any attempt to
// store a secret such as password) is an error. The connection block's
// core keys are typed fields; the keys of the auth methods are whatever the
// methods linked into the binary registered (RegisterConnectionKeys), so
// this package names no method. A missing file is not an
// error; an empty file gives the zero File.
//
//	connection:
//	  host: db.example.com
//	  port: 5432
//	  username: deployer
//	  database: app
//	  maintenance_database: postgres
//	  sslmode: verify-full
//	  sslcert: client.crt
//	  sslkey: client.key
//	  sslrootcert: ca.crt
//	  auth_method: aws          # password, aws, azure or google
//	  aws_region: us-west-2
//	  aws_role_arn: arn:aws:iam::123456789012:role/deployer
//	  azure_tenant_id: ...
//	  azure_client_id: ...
//	  google_instance: project:region:instance
//	  google_ip_type: private   # public (default), private or psc
//	params:
//	  env: staging
//	timeout: 5m
package pgmiyaml

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// FileName is the settings file's name in the project root.
const FileName = "pgmi.yaml"

// File is the decoded pgmi.yaml.
type File struct {
	Connection Connection        `yaml:"connection"`
	Params     map[string]string `yaml:"params"`
	Timeout    string            `yaml:"timeout"`
}

// Connection is the connection block. It holds no secrets by design.
type Connection struct {
	Host                string `yaml:"host"`
	Port                int    `yaml:"port"`
	Username            string `yaml:"username"`
	Database            string `yaml:"database"`
	MaintenanceDatabase string `yaml:"maintenance_database"`
	SSLMode             string `yaml:"sslmode"`
	SSLCert             string `yaml:"sslcert"`
	SSLKey              string `yaml:"sslkey"`
	SSLRootCert         string `yaml:"sslrootcert"`
	AuthMethod          string `yaml:"auth_method"`
	// Auth holds the auth methods' keys (such as <method>_region), checked
	// against those registered in this binary (Check).
	Auth map[string]string `yaml:",inline"`
}

// IsZero reports whether the connection block is empty.
func (c Connection) IsZero() bool {
	for _, v := range c.Auth {
		if v != "" {
			return false
		}
	}
	c.Auth = nil
	return reflect.ValueOf(c).IsZero()
}

// Load reads pgmi.yaml from the project root of fsys. A missing file gives
// the zero File. Errors are fault.Config.
func Load(fsys fs.FS) (File, error) {
	data, err := fs.ReadFile(fsys, FileName)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fault.Wrap(fault.Config, err, "cannot read %s", FileName)
	}
	return Parse(data)
}

// Parse decodes pgmi.yaml strictly.
func Parse(data []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return File{}, fault.Wrap(fault.Config, err, "invalid %s (keys allowed: connection, params, timeout; secrets never belong in it)", FileName)
	}
	if err := f.Connection.Check(); err != nil {
		return File{}, err
	}
	if _, err := f.TimeoutDuration(); err != nil {
		return File{}, err
	}
	return f, nil
}

// TimeoutDuration parses the timeout; zero when unset.
func (f File) TimeoutDuration() (time.Duration, error) {
	if f.Timeout == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(f.Timeout)
	if err != nil || d < 0 {
		return 0, fault.Errorf(fault.Config, "invalid timeout %q in %s: use a Go duration such as 90s or 5m", f.Timeout, FileName)
	}
	return d, nil
}
