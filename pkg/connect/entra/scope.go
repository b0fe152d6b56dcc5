package entra

import "strings"

// DefaultScope is the Entra ID scope of Azure Database for PostgreSQL in
// Azure's public cloud.
const DefaultScope = "https://ossrdbms-aad.database.windows.net/.default"

// sovereignScopes maps a server domain suffix to its cloud's scope.
var sovereignScopes = []struct{ suffix, scope string }{
	{".database.usgovcloudapi.net", "https://ossrdbms-aad.database.usgovcloudapi.net/.default"},
	{".database.chinacloudapi.cn", "https://ossrdbms-aad.database.chinacloudapi.cn/.default"},
}

// ScopeFor is the token scope for a server host name: the US Government
// and China clouds' scopes for their domains, DefaultScope for every other
// host (servers.postgres.database.azure.com, private endpoints, IPs).
func ScopeFor(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range sovereignScopes {
		if strings.HasSuffix(h, s.suffix) {
			return s.scope
		}
	}
	return DefaultScope
}
