#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine, as root.
# Idempotent: prints what it does, and nothing when there is nothing to do.
#
#   PostgreSQL server binaries  internal/testpg runs initdb and postgres itself,
#                               so no system cluster is created or started.
#   pgbouncer                   pkg/connect refuses transaction-mode poolers;
#                               its tests run a real PgBouncer.
#   openssl, ssh-keygen         key-format and SSH-signature interop tests.
#   Azurite                     (later; see the marked section below)
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
# Azurite (Azure Blob emulator): TO BE ADDED by a later issue.
# It will run `npm ci` in the tools directory that pins Azurite, so that
# node_modules/.bin/azurite-blob exists for the storage tests. Not implemented
# yet; the storage tests skip (or fail under CI) without it.
# ---------------------------------------------------------------------------

install_packages
