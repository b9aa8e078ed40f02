#!/usr/bin/env bash
# Build the offline stand-in images of the transbot dev stack:
#
#   transbot-standin/base:bookworm   Debian 12 root fs from one mmdebstrap run
#   transbot-standin/base:trixie     Debian 13 root fs, the same way (PostgreSQL 17)
#   transbot-standin/postgres:15     honours the postgres:15-alpine contract
#   transbot-standin/postgres:17     honours the postgres:17-alpine contract
#   transbot-standin/redis:7         honours the redis:7-alpine contract
#   transbot-standin/langfuse:2      keeps the Langfuse v2 contract we use
#   transbot-standin/registry:2      the CNCF distribution registry 2.8 (Debian's)
#
# and, for the update tests, a second build of each service stand-in
# (postgres:15-rev2, postgres:17-rev2, redis:7-rev2, langfuse:2-rev2: the same
# contract, another image ID) and redis:7-test-never-healthy, a redis build
# whose server never starts, so its healthcheck never passes.
#
# TRANSBOT_STANDIN_PREFIX (default transbot-standin) names the repository
# prefix of all of them, so work on the stand-ins can build its own images
# (e.g. TRANSBOT_STANDIN_PREFIX=transbot-standin-dev) without retagging the
# ones other test runs on the same engine are using.
#
# No container registry is needed. Every image carries the label
# org.transbot.standin.hash: the sha256 of the files it is built from (plus
# the package list of its base). An image whose label matches is reused, so a
# warm run takes seconds. Usage: tests/images/build.sh [--force] [--help]
set -Eeuo pipefail
# errexit also inside $(...), so a failing step cannot yield a wrong hash.
shopt -s inherit_errexit

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly SCRIPT_DIR
readonly HASH_LABEL=org.transbot.standin.hash
readonly PREFIX="${TRANSBOT_STANDIN_PREFIX:-transbot-standin}"
readonly DEFAULT_MIRROR=http://deb.debian.org/debian
readonly SOURCES_DIR=/etc/apt/sources.list.d
readonly LOCK_FILE=/tmp/transbot-standin-build.lock
# The Debian suites a base is made from: base:<suite>, its packages in
# base/packages-<suite>.txt. bookworm serves every stand-in but PostgreSQL 17
# (Debian 12 has no postgresql-17; Debian 13 has only 17).
readonly SUITES=(bookworm trixie)
# The images in build order (a parent before the images built FROM it).
readonly IMAGES=(
	postgres15 postgres17 redis langfuse registry
	postgres15-rev2 postgres17-rev2 redis-rev2 langfuse-rev2
	redis-never-healthy
)
declare -A TAGS=(
	[postgres15]="$PREFIX/postgres:15"
	[postgres17]="$PREFIX/postgres:17"
	[redis]="$PREFIX/redis:7"
	[langfuse]="$PREFIX/langfuse:2"
	[registry]="$PREFIX/registry:2"
	[postgres15-rev2]="$PREFIX/postgres:15-rev2"
	[postgres17-rev2]="$PREFIX/postgres:17-rev2"
	[redis-rev2]="$PREFIX/redis:7-rev2"
	[langfuse-rev2]="$PREFIX/langfuse:2-rev2"
	[redis-never-healthy]="$PREFIX/redis:7-test-never-healthy"
)
# The build context directory of each image.
declare -A CONTEXTS=(
	[postgres15]=postgres [postgres17]=postgres [redis]=redis [langfuse]=langfuse [registry]=registry
	[postgres15-rev2]=postgres [postgres17-rev2]=postgres [redis-rev2]=redis [langfuse-rev2]=langfuse
	[redis-never-healthy]=never-healthy
)
# What each image is built FROM: a suite's base, or another image of IMAGES.
declare -A PARENTS=(
	[postgres15]=bookworm [postgres17]=trixie [redis]=bookworm [langfuse]=bookworm [registry]=bookworm
	[postgres15-rev2]=bookworm [postgres17-rev2]=trixie [redis-rev2]=bookworm [langfuse-rev2]=bookworm
	[redis-never-healthy]=redis
)
# Build arguments, space separated. STANDIN_REVISION=2 makes the second
# build: the same files and contract, one more label (a new image ID).
declare -A BUILD_ARGS=(
	[postgres15]="PG_MAJOR=15" [postgres17]="PG_MAJOR=17"
	[postgres15-rev2]="PG_MAJOR=15 STANDIN_REVISION=2" [postgres17-rev2]="PG_MAJOR=17 STANDIN_REVISION=2"
	[redis-rev2]="STANDIN_REVISION=2" [langfuse-rev2]="STANDIN_REVISION=2"
)
readonly TAGS CONTEXTS PARENTS BUILD_ARGS
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

base_tag() { printf '%s/base:%s\n' "$PREFIX" "$1"; }

is_suite() {
	local suite
	for suite in "${SUITES[@]}"; do
		[[ "$suite" != "$1" ]] || return 0
	done
	return 1
}

# The tag an image is built FROM: a suite's base or another stand-in.
parent_tag() {
	local parent="${PARENTS[$1]}"
	if is_suite "$parent"; then
		base_tag "$parent"
	else
		printf '%s\n' "${TAGS[$parent]}"
	fi
}

usage() {
	local name tags=()
	for name in "${IMAGES[@]}"; do
		tags+=("${TAGS[$name]}")
	done
	cat <<-EOF
		usage: $0 [--force]

		Builds the bases $(base_tag bookworm) and $(base_tag trixie) with
		mmdebstrap and on them the stand-ins
		$(printf '  %s\n' "${tags[@]}")
		Images whose ${HASH_LABEL} label matches their sources are reused;
		a base is built only when an image on it has to be.

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

# The URI of the first deb822 stanza (debian.sources first, then the other
# *.sources) whose Suites match the awk pattern WANT, so the build uses the
# same (possibly local) mirror as apt does. A Debian 12 machine has no
# trixie suite of its own unless .ci/run added it: then the fallback.
configured_uri() {
	local want="$1" file
	for file in "$SOURCES_DIR/debian.sources" "$SOURCES_DIR"/*.sources; do
		[[ -r "$file" ]] || continue
		awk -v want="$want" '
			/^[[:space:]]*$/ { uri = "" }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i ~ want && uri != "") { print uri; found = 1; exit } }
			END { exit !found }
		' "$file" && return 0
	done
	return 1
}

mirror_for() {
	configured_uri "^$1\$" || printf '%s\n' "$DEFAULT_MIRROR"
}

# The security archive of SUITE: the machine's URI for it, else the URI it
# uses for its own security suite (the same archive serves every release),
# else none.
security_mirror_for() {
	configured_uri "^$1-security\$" || configured_uri '-security$' || true
}

# Package names from base/packages-SUITE.txt, comma separated for --include.
package_list() {
	local file="$SCRIPT_DIR/base/packages-$1.txt" list
	list="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$file" | grep -v '^$' | paste -sd, -)"
	[[ -n "$list" ]] || die "base/packages-$1.txt lists no packages"
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
	local suite="$1"
	hash_files "$SCRIPT_DIR" "suite=$suite opts=${MMDEBSTRAP_OPTS[*]}" base/customize.sh "base/packages-$suite.txt"
}

standin_hash() {
	local name="$1" parent_hash="$2"
	hash_files "$SCRIPT_DIR" "parent=$parent_hash args=${BUILD_ARGS[$name]:-}" "${CONTEXTS[$name]}"
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
	local suite="$1" hash="$2" tag mirror security packages image_id logfile="$WORK_DIR/base-$1.log"
	tag="$(base_tag "$suite")"
	command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
	mirror="$(mirror_for "$suite")"
	security="$(security_mirror_for "$suite")"
	packages="$(package_list "$suite")"
	local -a sources=("deb $mirror $suite main" "deb $mirror $suite-updates main")
	if [[ -n "$security" ]]; then
		sources+=("deb $security $suite-security main")
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
			"$suite" - "${sources[@]}" 2>"$logfile" |
			docker import \
				--change "LABEL $HASH_LABEL=$hash" \
				--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
				--change 'CMD ["bash"]' \
				- 2>>"$logfile"
	)"; then
		if [[ -n "${image_id:-}" ]]; then
			docker image rm "$image_id" >/dev/null 2>&1 || true
		fi
		fail_with_log "mmdebstrap | docker import of $tag" "$logfile"
	fi
	docker tag "$image_id" "$tag"
	prune_dangling
}

# The upstream version of Debian's postgresql-MAJOR in an image ("17.12"
# from "17.12-0+deb13u1"), as the official images' PG_VERSION gives it.
postgres_version_in() {
	local image="$1" major="$2" version
	version="$(docker run --rm --network none --entrypoint dpkg-query "$image" \
		--showformat '${Version}' --show "postgresql-$major")"
	version="${version#*:}"
	printf '%s\n' "${version%%[-+~]*}"
}

build_standin() {
	local name="$1" hash="$2" parent arg major
	local logfile="$WORK_DIR/$name.log"
	parent="$(parent_tag "$name")"
	local -a args=(--build-arg "BASE_IMAGE=$parent")
	for arg in ${BUILD_ARGS[$name]:-}; do
		args+=(--build-arg "$arg")
		if [[ "$arg" == PG_MAJOR=* ]]; then
			major="${arg#PG_MAJOR=}"
			# PG_VERSION is the package's, so the image says what it runs.
			args+=(--build-arg "PG_VERSION=$(postgres_version_in "$parent" "$major")")
		fi
	done
	if ! DOCKER_BUILDKIT=0 docker build --force-rm \
		"${args[@]}" \
		--label "$HASH_LABEL=$hash" \
		--tag "${TAGS[$name]}" \
		"$SCRIPT_DIR/${CONTEXTS[$name]}" >"$logfile" 2>&1; then
		fail_with_log "docker build of ${TAGS[$name]}" "$logfile"
	fi
	prune_dangling
}

# A rebuild leaves the previous image untagged; drop those of ours that no
# other image builds on (images of other projects are never touched).
prune_dangling() {
	docker image prune --force --filter "label=$HASH_LABEL" >/dev/null 2>&1 || true
}

outdated() {
	[[ "$FORCE" == true || "$(image_hash_label "$1")" != "$2" ]]
}

# Reuse or build one image; prints "<tag>: built|reused in <n>s".
ensure_image() {
	local tag="$1" hash="$2" builder="$3"
	shift 3
	local started=$SECONDS action=reused
	if outdated "$tag" "$hash"; then
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

	local started=$SECONDS suite name parent
	declare -A hashes=() needed=()
	for suite in "${SUITES[@]}"; do
		hashes[$suite]="$(base_hash "$suite")"
	done
	# IMAGES lists a parent before its children, so its hash is known.
	for name in "${IMAGES[@]}"; do
		parent="${PARENTS[$name]}"
		hashes[$name]="$(standin_hash "$name" "${hashes[$parent]}")"
		if is_suite "$parent" && outdated "${TAGS[$name]}" "${hashes[$name]}"; then
			needed[$parent]=true
		fi
	done

	# A base is only needed to build a stand-in on it; when all of those are
	# current a missing or outdated base is left alone.
	for suite in "${SUITES[@]}"; do
		if [[ -n "${needed[$suite]:-}" ]]; then
			ensure_image "$(base_tag "$suite")" "${hashes[$suite]}" build_base "$suite" "${hashes[$suite]}"
		elif [[ "$(image_hash_label "$(base_tag "$suite")")" == "${hashes[$suite]}" ]]; then
			log "$(base_tag "$suite"): reused in 0s"
		else
			log "$(base_tag "$suite"): not needed (all stand-ins on it are current)"
		fi
	done
	for name in "${IMAGES[@]}"; do
		ensure_image "${TAGS[$name]}" "${hashes[$name]}" build_standin "$name" "${hashes[$name]}"
	done
	log "done in $((SECONDS - started))s"
}

main "$@"
