#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine, as root.
# Idempotent: prints what it does, and nothing when there is nothing to do.
#
#   PostgreSQL server binaries  internal/pgserver (pgmi local, and the tests through
#                               internal/testpg) runs initdb and postgres itself, so no system cluster is created or started.
#   pgbouncer                   pkg/connect refuses transaction-mode poolers;
#                               its tests run a real PgBouncer.
#   openssl, ssh-keygen         key-format and SSH-signature interop tests.
#   Azurite                     Azure Blob emulator for the bundle fetch tests,
#                               from npm into .cache/tools (see its section).
#   Terraform provider schemas  .jsii manifests of @cdktf/provider-* from npm, for
#                               internal/infratest's Schema tests (see its section).
set -euo pipefail

log() { printf 'deps: %s\n' "$*"; }

have_postgres_server() {
	local bin
	for bin in /usr/lib/postgresql/*/bin; do
		if [[ -x $bin/initdb && -x $bin/postgres ]]; then
			return 0
		fi
	done
	return 1
}

# postgresql-common creates and starts a "main" cluster on port 5432 when a
# server package is installed, unless createcluster.conf says otherwise.
# Tests never use a system cluster, so make sure none is created.
disable_main_cluster() {
	local conf=/etc/postgresql-common/createcluster.conf
	if [[ -f $conf ]] && grep -Eqi '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*'"'"'?(false|off|no)\b' "$conf"; then
		return 0
	fi
	log "setting create_main_cluster = false in $conf"
	mkdir -p "$(dirname "$conf")"
	printf '%s\n' '# Added by pgmi scripts/deps.sh: tests start their own clusters.' \
		'create_main_cluster = false' >>"$conf"
}

have_command() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }

# Debian packages still to install, gathered first so apt runs once.
packages=()
have_postgres_server || packages+=(postgresql)
have_command pgbouncer || packages+=(pgbouncer)
have_command openssl || packages+=(openssl)
have_command ssh-keygen || packages+=(openssh-client)

install_packages() {
	if [[ ${#packages[@]} -eq 0 ]]; then
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		log "missing: ${packages[*]}; run this script as root to install them" >&2
		exit 1
	fi
	disable_main_cluster
	log "installing ${packages[*]} (apt-get install)"
	apt-get update
	# postgresql-common's postinst installs createcluster.conf through ucf:
	# UCF_FORCE_CONFFOLD keeps ours instead of asking. The dpkg options do
	# the same for ordinary conffiles.
	DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${packages[@]}"
	# The pgbouncer package starts a system service; tests run their own.
	if [[ " ${packages[*]} " == *" pgbouncer "* ]] && command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now pgbouncer >/dev/null 2>&1 || true
	fi
	if ! have_postgres_server; then
		log "apt-get installed postgresql, but no /usr/lib/postgresql/*/bin holds initdb and postgres" >&2
		exit 1
	fi
	log "installed: ${packages[*]}"
}

# ---------------------------------------------------------------------------
# Azurite (Azure Blob emulator), for the tests of pkg/bundle/azpin through
# internal/testfakes/azurite. npm installs the pinned version into the
# gitignored project-local tools directory below, where the harness looks
# for node_modules/.bin/azurite-blob (PGMI_AZURITE_BLOB overrides the path).
# Node and npm come from Debian when missing. Nothing runs as a service.
AZURITE_VERSION=3.35.0
AZURITE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/tools/azurite"

have_azurite() {
	local pkg=$AZURITE_DIR/node_modules/azurite/package.json
	[[ -x $AZURITE_DIR/node_modules/.bin/azurite-blob && -f $pkg ]] &&
		grep -Eq '"version"[[:space:]]*:[[:space:]]*"'"${AZURITE_VERSION//./\\.}"'"' "$pkg"
}

install_node() {
	if have_command node && have_command npm; then
		return 0
	fi
	if [[ $(id -u) -ne 0 ]]; then
		log "missing: node and npm (for Azurite); run this script as root to install them" >&2
		exit 1
	fi
	log "installing nodejs npm (apt-get install)"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
}

install_azurite() {
	if have_azurite; then
		return 0
	fi
	install_node
	log "installing azurite@$AZURITE_VERSION into ${AZURITE_DIR#"$PWD"/} (npm install)"
	mkdir -p "$AZURITE_DIR"
	[[ -f $AZURITE_DIR/package.json ]] ||
		printf '{"name":"pgmi-test-tools","private":true}\n' >"$AZURITE_DIR/package.json"
	npm install --prefix "$AZURITE_DIR" --save-exact --no-audit --no-fund --loglevel=error \
		"azurite@$AZURITE_VERSION"
	if ! have_azurite; then
		log "npm finished, but $AZURITE_DIR/node_modules/.bin/azurite-blob is not azurite $AZURITE_VERSION" >&2
		exit 1
	fi
	log "installed: azurite $AZURITE_VERSION"
}

install_azurite
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Terraform provider schemas, for the Schema tests of internal/infratest
# (internal/tfschema reads them). The @cdktf/provider-* npm packages carry a
# .jsii manifest generated from each provider's real schema; the pins below
# are the lower and upper end of each required_providers constraint under
# infra/ (the package.json's cdktf.provider.version names the provider
# release). Only the .jsii is kept, reduced to the types and fields the
# checker reads and gzipped: about 5 MB instead of 700 MB.
TFSCHEMA_PACKAGES=(
	provider-aws@21.0.0       # hashicorp/aws 6.0.0      (~> 6.0)
	provider-aws@21.22.1      # hashicorp/aws 6.25.0
	provider-google@14.0.0    # hashicorp/google 6.1.0   (~> 6.0; the first 6.x package)
	provider-google@16.12.1   # hashicorp/google 6.50.0
	provider-azurerm@14.9.0   # hashicorp/azurerm 4.40.0 (~> 4.40)
	provider-azurerm@14.23.1  # hashicorp/azurerm 4.55.0
	provider-archive@7.0.0    # hashicorp/archive 2.4.0  (~> 2.4)
	provider-archive@11.0.1   # hashicorp/archive 2.7.1
)
TFSCHEMA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache/tools/tfschema"

# Keeps, of a .jsii, the resource and data source classes (their getters
# and the initializer's config type) and every interface (the Config
# interfaces and their nested blocks), each property with its name, type,
# optional flag and only the documentation link naming its Terraform name.
TFSCHEMA_TRIM='
const fs = require("fs");
const [dir, out] = process.argv.slice(1);
const pkg = JSON.parse(fs.readFileSync(dir + "/package.json"));
const jsii = JSON.parse(fs.readFileSync(dir + "/.jsii"));
const link = /Docs at Terraform Registry: \{@link [^}]*\}/;
const docs = (d) => {
	const o = {};
	for (const k of ["summary", "remarks"]) {
		const m = ((d && d[k]) || "").match(link);
		if (m) o[k] = m[0];
	}
	if (/ block\.$/.test((d && d.summary) || "")) o.block = true;
	return o;
};
const types = {};
for (const [fqn, t] of Object.entries(jsii.types)) {
	const res = t.kind === "class" && /^cdktf\.Terraform(Resource|DataSource)$/.test(t.base);
	if (!res && t.kind !== "interface") continue;
	types[fqn] = {
		fqn, kind: t.kind, base: t.base, interfaces: t.interfaces,
		docs: res ? { summary: t.docs.summary } : undefined,
		initializer: res && t.initializer ? { parameters: t.initializer.parameters.filter((p) => p.name === "config") } : undefined,
		properties: (t.properties || []).map((p) => ({
			name: p.name, optional: p.optional, immutable: p.immutable, static: p.static,
			type: p.type, docs: res ? undefined : docs(p.docs),
		})),
	};
}
fs.writeFileSync(out, JSON.stringify({ name: jsii.name, version: jsii.version, cdktf: pkg.cdktf, types }));
'

install_tfschemas() {
	local spec name version file tmp
	for spec in "${TFSCHEMA_PACKAGES[@]}"; do
		name=${spec%@*} version=${spec#*@}
		file=$TFSCHEMA_DIR/$name-$version.jsii.json.gz
		[[ -s $file ]] && continue
		install_node
		log "installing the schema of @cdktf/$spec into ${TFSCHEMA_DIR#"$PWD"/} (npm pack)"
		mkdir -p "$TFSCHEMA_DIR"
		tmp=$(mktemp -d)
		# A throwaway npm cache: the tarballs (20 to 37 MB each) are not kept.
		(cd "$tmp" && npm pack --silent --no-audit --no-fund --loglevel=error --cache "$tmp/npm-cache" "@cdktf/$spec" >/dev/null)
		tar -xzf "$tmp"/*.tgz -C "$tmp" package/.jsii package/package.json
		node -e "$TFSCHEMA_TRIM" "$tmp/package" "$tmp/schema.json"
		gzip -9 -n -c "$tmp/schema.json" >"$file.partial"
		mv "$file.partial" "$file"
		rm -rf "$tmp"
	done
}

install_tfschemas
# ---------------------------------------------------------------------------

install_packages
