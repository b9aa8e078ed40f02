#!/usr/bin/env bash
# Build the offline stand-in images of the transbot dev stack:
#
#   transbot-standin/base:bookworm   Debian 12 root fs from one mmdebstrap run
#   transbot-standin/postgres:15     honours the postgres:15-alpine contract
#   transbot-standin/redis:7         honours the redis:7-alpine contract
#   transbot-standin/langfuse:2      keeps the Langfuse v2 contract we use
#
# TRANSBOT_STANDIN_PREFIX (default transbot-standin) names the repository
# prefix of all four, so work on the stand-ins can build its own images
# (e.g. TRANSBOT_STANDIN_PREFIX=transbot-standin-dev) without retagging the
# ones other test runs on the same engine are using.
#
# No container registry is needed. Every image carries the label
# org.transbot.standin.hash: the sha256 of the files it is built from (plus
# the package list of the base). An image whose label matches is reused, so a
# warm run takes seconds. Usage: tests/images/build.sh [--force] [--help]
set -Eeuo pipefail
# errexit also inside $(...), so a failing step cannot yield a wrong hash.
shopt -s inherit_errexit

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly SCRIPT_DIR
readonly HASH_LABEL=org.transbot.standin.hash
readonly PREFIX="${TRANSBOT_STANDIN_PREFIX:-transbot-standin}"
readonly BASE_TAG="$PREFIX/base:bookworm"
readonly SUITE=bookworm
readonly DEFAULT_MIRROR=http://deb.debian.org/debian
readonly SOURCES_FILE=/etc/apt/sources.list.d/debian.sources
readonly LOCK_FILE=/tmp/transbot-standin-build.lock
# name -> tag; the name is also the build context directory.
readonly STANDINS=(postgres redis langfuse)
declare -A TAGS=(
	[postgres]="$PREFIX/postgres:15"
	[redis]="$PREFIX/redis:7"
	[langfuse]="$PREFIX/langfuse:2"
)
readonly TAGS
# mmdebstrap options that shape the base (they are part of its hash).
readonly MMDEBSTRAP_OPTS=(
	--variant=minbase
	--aptopt='APT::Install-Recommends "false"'
	--dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-include=/usr/share/locale/locale.alias'
)

FORCE=false
WORK_DIR=

log() { printf '%s\n' "$*"; }
die() {
	printf 'build.sh: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	cat <<-EOF
		usage: $0 [--force]

		Builds ${BASE_TAG} with mmdebstrap and the stand-ins
		${TAGS[postgres]}, ${TAGS[redis]} and ${TAGS[langfuse]}.
		Images whose ${HASH_LABEL} label matches their sources are reused.

		  --force   rebuild every image even if its hash matches

		TRANSBOT_STANDIN_PREFIX (now ${PREFIX}) is the repository prefix
		of every tag, e.g. transbot-standin-dev to keep work in progress
		apart from the images other runs on this engine use.
	EOF
}

on_error() {
	local status=$? line=$1
	printf 'build.sh: error: command failed (exit %s) at line %s: %s\n' "$status" "$line" "$BASH_COMMAND" >&2
}

cleanup() {
	if [[ -n "$WORK_DIR" && -d "$WORK_DIR" ]]; then
		rm -rf -- "$WORK_DIR"
	fi
}

# A prefix Docker would refuse only fails later, inside docker build.
check_prefix() {
	if [[ ! "$PREFIX" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]]; then
		die "TRANSBOT_STANDIN_PREFIX='$PREFIX' is not a valid image repository name (lower-case letters, digits, . _ - and /)"
	fi
}

parse_args() {
	while (($#)); do
		case "$1" in
		--force) FORCE=true ;;
		-h | --help)
			usage
			exit 0
			;;
		*) die "unknown argument: $1 (see --help)" ;;
		esac
		shift
	done
}

check_prerequisites() {
	command -v docker >/dev/null || die "docker is not installed"
	docker info >/dev/null 2>&1 || die "the docker engine is not reachable (is dockerd running? are you allowed to use it?)"
	command -v sha256sum >/dev/null || die "sha256sum is missing (coreutils)"
}

# One build at a time: two concurrent runs would import/tag the same names.
# The lock file may belong to another user (root in .ci/run, then the CI
# user): /tmp's sticky bit refuses creating-opens of another's file, while
# reading one is enough for flock.
take_lock() {
	if ! { exec 9<"$LOCK_FILE"; } 2>/dev/null; then
		exec 9>>"$LOCK_FILE" || exec 9<"$LOCK_FILE"
	fi
	if ! flock -w 600 9; then
		die "another build.sh holds $LOCK_FILE for more than 10 minutes"
	fi
}

# Debian mirror URLs as configured on this machine (deb822 sources), so the
# build uses the same (possibly local) mirror as apt does.
mirror_for() {
	local want="$1" fallback="$2" uris
	if [[ -r "$SOURCES_FILE" ]]; then
		uris="$(awk -v want="$want" '
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) { print uri; exit } }
		' "$SOURCES_FILE")"
		if [[ -n "$uris" ]]; then
			printf '%s\n' "$uris"
			return
		fi
	fi
	printf '%s\n' "$fallback"
}

# Package names from base/packages.txt, comma separated for --include.
package_list() {
	local list
	list="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$SCRIPT_DIR/base/packages.txt" | grep -v '^$' | paste -sd, -)"
	[[ -n "$list" ]] || die "base/packages.txt lists no packages"
	printf '%s\n' "$list"
}

# sha256 over the relative names and contents of the given files, in a
# stable order, plus any extra text (stdin of the caller is not used).
hash_files() {
	local dir="$1" extra="$2"
	shift 2
	{
		printf '%s\n' "$extra"
		(
			cd -- "$dir"
			find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
				LC_ALL=C sort -z |
				while IFS= read -r -d '' f; do
					# the exec bit matters to the image too
					if [[ -x "$f" ]]; then printf 'x %s\n' "$f"; else printf 'f %s\n' "$f"; fi
					sha256sum <"$f"
				done
		)
	} | sha256sum | cut -d' ' -f1
}

base_hash() {
	hash_files "$SCRIPT_DIR" "suite=$SUITE opts=${MMDEBSTRAP_OPTS[*]}" base
}

standin_hash() {
	local name="$1" base="$2"
	hash_files "$SCRIPT_DIR" "base=$base" "$name"
}

image_hash_label() {
	docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

# Print the tail of a log and fail: the full log would bury the reason.
fail_with_log() {
	local what="$1" logfile="$2"
	printf '\n----- last lines of the %s log -----\n' "$what" >&2
	tail -n 40 "$logfile" >&2 || true
	printf -- '-----\n' >&2
	die "$what failed"
}

build_base() {
	local hash="$1" mirror security packages image_id logfile="$WORK_DIR/base.log"
	command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
	mirror="$(mirror_for "$SUITE" "$DEFAULT_MIRROR")"
	security="$(mirror_for "$SUITE-security" "")"
	packages="$(package_list)"
	local -a sources=("deb $mirror $SUITE main" "deb $mirror $SUITE-updates main")
	if [[ -n "$security" ]]; then
		sources+=("deb $security $SUITE-security main")
	fi
	local hook
	# mmdebstrap runs the hook with the new root fs as "$1" (literal here).
	# shellcheck disable=SC2016
	printf -v hook 'sh %q "$1"' "$SCRIPT_DIR/base/customize.sh"
	# Stream the root fs straight into docker import; the image is tagged
	# only after both ends succeeded, so a broken run leaves no base behind.
	if ! image_id="$(
		mmdebstrap "${MMDEBSTRAP_OPTS[@]}" \
			--include="$packages" \
			--customize-hook="$hook" \
			"$SUITE" - "${sources[@]}" 2>"$logfile" |
			docker import \
				--change "LABEL $HASH_LABEL=$hash" \
				--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
				--change 'CMD ["bash"]' \
				- 2>>"$logfile"
	)"; then
		if [[ -n "${image_id:-}" ]]; then
			docker image rm "$image_id" >/dev/null 2>&1 || true
		fi
		fail_with_log "mmdebstrap | docker import of $BASE_TAG" "$logfile"
	fi
	docker tag "$image_id" "$BASE_TAG"
	prune_dangling
}

build_standin() {
	local name="$1" hash="$2"
	local logfile="$WORK_DIR/$name.log"
	if ! DOCKER_BUILDKIT=0 docker build --force-rm \
		--build-arg "BASE_IMAGE=$BASE_TAG" \
		--label "$HASH_LABEL=$hash" \
		--tag "${TAGS[$name]}" \
		"$SCRIPT_DIR/$name" >"$logfile" 2>&1; then
		fail_with_log "docker build of ${TAGS[$name]}" "$logfile"
	fi
	prune_dangling
}

# A rebuild leaves the previous image untagged; drop those of ours that no
# other image builds on (images of other projects are never touched).
prune_dangling() {
	docker image prune --force --filter "label=$HASH_LABEL" >/dev/null 2>&1 || true
}

# Reuse or build one image; prints "<tag>: built|reused in <n>s".
ensure_image() {
	local tag="$1" hash="$2" builder="$3"
	shift 3
	local started=$SECONDS action=reused
	if [[ "$FORCE" == true || "$(image_hash_label "$tag")" != "$hash" ]]; then
		"$builder" "$@"
		action=built
	fi
	log "$tag: $action in $((SECONDS - started))s"
}

main() {
	parse_args "$@"
	check_prefix
	trap 'on_error $LINENO' ERR
	trap cleanup EXIT
	check_prerequisites
	take_lock
	WORK_DIR="$(mktemp -d /tmp/transbot-standin-build.XXXXXX)"

	local started=$SECONDS base name hash
	base="$(base_hash)"
	declare -A hashes=()
	local needs_base=false
	for name in "${STANDINS[@]}"; do
		hash="$(standin_hash "$name" "$base")"
		hashes[$name]="$hash"
		if [[ "$FORCE" == true || "$(image_hash_label "${TAGS[$name]}")" != "$hash" ]]; then
			needs_base=true
		fi
	done

	# The base is only needed to build a stand-in; when all are current a
	# missing or outdated base is left alone.
	if [[ "$needs_base" == true ]]; then
		ensure_image "$BASE_TAG" "$base" build_base "$base"
	elif [[ "$(image_hash_label "$BASE_TAG")" == "$base" ]]; then
		log "$BASE_TAG: reused in 0s"
	else
		log "$BASE_TAG: not needed (all stand-ins are current)"
	fi
	for name in "${STANDINS[@]}"; do
		ensure_image "${TAGS[$name]}" "${hashes[$name]}" build_standin "$name" "${hashes[$name]}"
	done
	log "done in $((SECONDS - started))s"
}

main "$@"
