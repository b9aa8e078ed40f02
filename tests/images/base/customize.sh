#!/bin/sh
# mmdebstrap customize hook for the transbot-standin/base:<suite> images.
# Called by mmdebstrap with the root of the new file system as $1.
set -eu
root="$1"

# postgresql-common's postinst creates a "main" cluster (of 15 on bookworm,
# 17 on trixie) owned by the Debian postgres uid. The stand-in initialises
# its own cluster in PGDATA like the official image, so the packaged one
# would only be dead weight (and files owned by a uid we change later).
rm -rf "$root"/etc/postgresql/[0-9]* "$root"/var/lib/postgresql/[0-9]*

# The official postgres image sets LANG=en_US.utf8 and initdb takes the
# cluster locale from it; Debian only knows locales that were generated.
printf 'en_US.UTF-8 UTF-8\n' > "$root/etc/locale.gen"
chroot "$root" locale-gen >/dev/null

# Logs of the package installation are of no use in an image.
find "$root/var/log" -type f -delete
