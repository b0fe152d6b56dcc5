package azure

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// tlsOnly keeps only the attempts that use TLS. Under sslmode allow and
// prefer pgx would also try, or fall back to, a plaintext connection, where
// a server (or whoever answers in its place) could ask for the token in
// clear. With no TLS attempt left the settings cannot work: KindConfig.
func tlsOnly(cfg *pgx.ConnConfig) error {
	first := &pgconn.FallbackConfig{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}
	var keep []*pgconn.FallbackConfig
	for _, fc := range append([]*pgconn.FallbackConfig{first}, cfg.Fallbacks...) {
		if fc.TLSConfig != nil {
			keep = append(keep, fc)
		}
	}
	if len(keep) == 0 {
		return engine.Errorf(engine.KindConfig, "Entra ID authentication needs TLS, but no TLS connection is configured for %s: use --sslmode require or verify-full", cfg.Host)
	}
	cfg.Host, cfg.Port, cfg.TLSConfig = keep[0].Host, keep[0].Port, keep[0].TLSConfig
	cfg.Fallbacks = keep[1:]
	return nil
}
