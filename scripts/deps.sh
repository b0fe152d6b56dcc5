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

install_packages
