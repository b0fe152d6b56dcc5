#!/usr/bin/env bash
# Builds the function artifacts that infra/ deploys, reproducibly: the same
# commit gives the same bytes (-trimpath, no build id, no VCS stamp, static,
# fixed zip entry times and modes through internal/tools/zipdir).
#
#   scripts/package.sh aws [arm64|amd64]...   dist/aws/pgmi-aws-<arch>.zip: bootstrap (0755)
#   scripts/package.sh gcp                    dist/gcp/: Dockerfile + function (linux/amd64), a build context
#   scripts/package.sh azure                  dist/azure/pgmi-azure.zip: handler (0755), host.json,
#                                             BlobCreated/function.json, Reset/function.json,
#                                             Fleet/function.json
#   scripts/package.sh all                    all of the above (aws for both architectures)
#
# Environment: DIST (output folder, default dist), GO (default go),
# SOURCE_DATE_EPOCH (zip entry times, default 1980-01-01).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
DIST=${DIST:-dist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Build tags, as internal/archtest's table of shipped binaries has them (its
# TestShippingBuildsUseTheTags compares): grpcnotrace for every binary (no gRPC
# request tracing), disable_grpc_modules where cloud.google.com/go/storage is
# linked (no xDS/envoy).
AWS_TAGS=lambda.norpc,grpcnotrace
GCP_TAGS=grpcnotrace,disable_grpc_modules
AZURE_TAGS=grpcnotrace

log() { printf 'package: %s\n' "$*"; }

# build GOARCH OUT PKG [extra go build flags]: a static linux binary.
build() {
	local arch=$1 out=$2 pkg=$3
	shift 3
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS=-buildvcs=false \
		"$GO" build -trimpath -ldflags '-s -w -buildid=' "$@" -o "$out" "$pkg"
	chmod 0755 "$out"
}

ZIPDIR=$WORK/zipdir
zipdir() {
	if [[ ! -x $ZIPDIR ]]; then
		"$GO" build -o "$ZIPDIR" ./internal/tools/zipdir
	fi
	"$ZIPDIR" "$@"
}

package_aws() {
	local archs=("$@") arch stage
	[[ ${#archs[@]} -gt 0 ]] || archs=(arm64 amd64)
	mkdir -p "$DIST/aws"
	for arch in "${archs[@]}"; do
		case $arch in
		arm64 | amd64) ;;
		*)
			echo "package: aws: unknown architecture $arch (arm64 or amd64)" >&2
			return 2
			;;
		esac
		stage=$WORK/aws-$arch
		mkdir -p "$stage"
		build "$arch" "$stage/bootstrap" ./functions/aws -tags "$AWS_TAGS"
		zipdir -o "$DIST/aws/pgmi-aws-$arch.zip" -x bootstrap "$stage"
		log "$DIST/aws/pgmi-aws-$arch.zip"
	done
}

# The Cloud Run image is built from functions/gcp/Dockerfile, which copies
# the static binary "function" into a distroless image; dist/gcp is its
# build context.
package_gcp() {
	local out=$DIST/gcp
	rm -rf "$out"
	mkdir -p "$out"
	build amd64 "$out/function" ./functions/gcp -tags "$GCP_TAGS"
	install -m 0644 functions/gcp/Dockerfile "$out/Dockerfile"
	log "$out/ (docker build --platform linux/amd64 -t IMAGE $out)"
}

package_azure() {
	local stage=$WORK/azure dir
	mkdir -p "$stage" "$DIST/azure"
	build amd64 "$stage/handler" ./functions/azure -tags "$AZURE_TAGS"
	cp functions/azure/host.json "$stage/host.json"
	for dir in BlobCreated Fleet Reset; do
		mkdir -p "$stage/$dir"
		cp "functions/azure/$dir/function.json" "$stage/$dir/function.json"
	done
	zipdir -o "$DIST/azure/pgmi-azure.zip" -x handler "$stage"
	log "$DIST/azure/pgmi-azure.zip"
}

main() {
	local what=${1:-}
	[[ $# -gt 0 ]] && shift
	case $what in
	aws) package_aws "$@" ;;
	gcp) package_gcp ;;
	azure) package_azure ;;
	all)
		package_aws
		package_gcp
		package_azure
		;;
	*)
		echo "usage: scripts/package.sh aws [arm64|amd64]... | gcp | azure | all" >&2
		return 2
		;;
	esac
}

main "$@"
