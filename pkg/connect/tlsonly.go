package connect

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// TLSOnly keeps only the connection attempts that use TLS, for providers
// whose password is a bearer token. Under sslmode allow and prefer pgx would
// also try, or fall back to, plaintext, where a server (or whoever answers in
// its place) could ask for the token in clear. With no TLS attempt left the
// settings cannot work: a fault.Config error naming method.
func TLSOnly(cfg *pgx.ConnConfig, method string) error {
	first := &pgconn.FallbackConfig{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}
	var keep []*pgconn.FallbackConfig
	for _, fc := range append([]*pgconn.FallbackConfig{first}, cfg.Fallbacks...) {
		if fc.TLSConfig != nil {
			keep = append(keep, fc)
		}
	}
	if len(keep) == 0 {
		return fault.Errorf(fault.Config, "%s authentication needs TLS, but no TLS connection is configured for %s: use --sslmode require or verify-full", method, cfg.Host)
	}
	cfg.Host, cfg.Port, cfg.TLSConfig = keep[0].Host, keep[0].Port, keep[0].TLSConfig
	cfg.Fallbacks = keep[1:]
	return nil
}
