package main

import (
	"github.com/spf13/pflag"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

// authFlags defines the flags of every auth method linked into this binary
// (drivers.go imports them): each method's boolean flag and the flags of its
// settings. The returned function reads them after parsing, as
// connect.Flags.Auth wants them: set flags only, a boolean one as "true".
func authFlags(fl *pflag.FlagSet) func() map[string]string {
	var read []func(out map[string]string)
	for _, m := range connect.Methods() {
		on := fl.Bool(m.Flag, false, m.Usage)
		name := m.Flag
		read = append(read, func(out map[string]string) {
			if *on {
				out[name] = "true"
			}
		})
		for _, s := range m.Settings {
			if s.Flag == "" {
				continue
			}
			val := fl.String(s.Flag, "", s.Usage)
			name := s.Flag
			read = append(read, func(out map[string]string) {
				if *val != "" {
					out[name] = *val
				}
			})
		}
	}
	return func() map[string]string {
		out := map[string]string{}
		for _, r := range read {
			r(out)
		}
		return out
	}
}
