package pgserver

import (
	"strconv"
	"strings"
)

// ConnString is a keyword/value connection string for db over TCP as the
// postgres superuser, with the password when WithPasswordAuth is used. sslmode
// is left at pgx's default (prefer); append "sslmode=..." to override it.
func (c *Cluster) ConnString(db string) string {
	return c.connString(c.Host(), db)
}

// SocketConnString is like ConnString over the unix socket.
func (c *Cluster) SocketConnString(db string) string {
	return c.connString(c.sockDir, db)
}

func (c *Cluster) connString(host, db string) string {
	parts := []string{
		"host=" + quoteValue(host),
		"port=" + strconv.Itoa(c.port),
		"user=postgres",
		"dbname=" + quoteValue(db),
	}
	if c.password != "" {
		parts = append(parts, "password="+quoteValue(c.password))
	}
	return strings.Join(parts, " ")
}

var valueEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func quoteValue(v string) string { return "'" + valueEscaper.Replace(v) + "'" }
