#!/usr/bin/env bash
# Builds a `postgres` Docker image from this machine's own PostgreSQL server binaries
# (Debian/Ubuntu layout: /usr/lib/postgresql/<ver>, /usr/share/postgresql/<ver>), for machines
# that cannot pull from Docker Hub. The image honours the official `postgres` image's interface
# (POSTGRES_PASSWORD/USER/DB, PGDATA, `-c` options as the command, port 5432, STOPSIGNAL
# SIGINT), see postgres-image/docker-entrypoint.sh.
#
# usage: tests/support/build-postgres-image.sh [TAG]
#   TAG defaults to postgres:<major> (e.g. postgres:15), the image cargo-migrate asks for
#   when the local PostgreSQL has that major version.
#   PG_BINDIR=/usr/lib/postgresql/16/bin picks another installed version (default: highest).
#   An existing TAG that is not a local build (no label below, e.g. the official image pulled
#   from Docker Hub) is used as is; BUILD_POSTGRES_IMAGE_REPLACE=1 builds over it (the old
#   image then stays, untagged).
#
# No registry, no Dockerfile, no builder: the files are copied into a temporary root file
# system, which becomes the single layer of an image handed to `docker load`. The build is
# skipped when an image with TAG already carries the label
# org.cargo-migrate.local-build=<hash of every input>.
# Prints the image name on stdout (one line); progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
entrypoint="$here/postgres-image/docker-entrypoint.sh"
label=org.cargo-migrate.local-build

say() { printf 'build-postgres-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed (see tests/support/start-docker.sh)"
[[ -f $entrypoint ]] || die "missing $entrypoint"

# --- Which PostgreSQL ------------------------------------------------------------------------
if [[ -n ${PG_BINDIR:-} ]]; then
    bindir=$PG_BINDIR
else
    bindir=$(
        for dir in /usr/lib/postgresql/*/bin; do
            if [[ -x $dir/postgres && -x $dir/initdb ]]; then printf '%s\n' "$dir"; fi
        done | sort -V | tail -n 1
    )
    [[ -n $bindir ]] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
fi
ver=$(basename "$(dirname "$bindir")")        # the Debian directory name: 15, 9.6, ...
libdir=/usr/lib/postgresql/$ver/lib
sharedir=/usr/share/postgresql/$ver
[[ -d $libdir && -d $sharedir ]] || die "expected $libdir and $sharedir next to $bindir"
# `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
full_version=$("$bindir/postgres" --version | awk '{ print $3 }')
case $full_version in
    [0-9].*) major=$(cut -d. -f1-2 <<<"$full_version") ;; # 9.6
    *) major=${full_version%%.*} ;;
esac
[[ -n $major ]] || die "cannot read the version of $bindir/postgres"
tag=${1:-postgres:$major}

# --- The inputs ------------------------------------------------------------------------------
bins=(postgres initdb pg_ctl pg_isready psql)
tools=(dash setpriv id mkdir chown chmod cat find locale)
elves=()
for bin in "${bins[@]}"; do
    [[ -x $bindir/$bin ]] || die "missing $bindir/$bin"
    elves+=("$bindir/$bin")
done
tool_paths=()
for tool in "${tools[@]}"; do
    path=$(command -v "$tool") || die "missing the tool $tool (needed by the entrypoint)"
    tool_paths+=("$path")
done
elves+=("${tool_paths[@]}")
# Server modules (plpgsql, pgcrypto, pg_trgm, ...), without the LLVM JIT (libLLVM alone is
# ~100 MB; without the provider the server simply runs with jit unavailable).
modules=()
for module in "$libdir"/*.so; do
    case $(basename "$module") in llvmjit*) continue ;; esac
    modules+=("$module")
done

# Shared libraries of everything above, as ldd finds them (the paths the loader will look at).
ldd_out=$(printf '%s\n' "${elves[@]}" "${modules[@]}" | xargs -r -P "$(nproc)" -n 16 ldd 2>&1) ||
    die "ldd failed: $ldd_out"
if grep -q 'not found' <<<"$ldd_out"; then
    die "unresolved libraries: $(grep 'not found' <<<"$ldd_out" | sort -u | tr -s ' \t' ' ')"
fi
mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' <<<"$ldd_out" | sort -u)
[[ ${#libs[@]} -gt 0 ]] || die "ldd listed no libraries"
locale_dir=
for candidate in /usr/lib/locale/C.utf8 /usr/lib/locale/C.UTF-8; do
    if [[ -d $candidate ]]; then
        locale_dir=$candidate
        break
    fi
done
lang=C
if [[ -n $locale_dir ]]; then lang=C.UTF-8; fi

owner_mode="root-only"
if [[ $(id -u) == 0 ]]; then owner_mode="chown"; fi

# --- Skip when up to date --------------------------------------------------------------------
hash=$(
    {
        printf 'layout 1 %s %s %s %s\n' "$tag" "$ver" "$owner_mode" "$lang"
        sha256sum "${BASH_SOURCE[0]}" "$entrypoint"
        stat -L -c '%n %s %Y %a' "${elves[@]}" "${modules[@]}" "${libs[@]}"
        find "$sharedir" /usr/share/zoneinfo ${locale_dir:+"$locale_dir"} -printf '%p %s %T@ %m %l\n' | sort
    } | sha256sum | cut -c1-32
)
existing=$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$tag" 2>/dev/null || true)
if [[ $existing == "$hash" ]]; then
    say "$tag is up to date (PostgreSQL $full_version, $label=$hash)"
    printf '%s\n' "$tag"
    exit 0
fi
old_id=$(docker image inspect --format '{{ .Id }}' "$tag" 2>/dev/null || true)
# An image with this tag that this script did not build (e.g. the official postgres:15 pulled
# on a machine with Docker Hub) is left alone: it is what the tests should run against anyway.
if [[ -n $old_id && -z $existing && ${BUILD_POSTGRES_IMAGE_REPLACE:-} != 1 ]]; then
    say "$tag exists and is not a local build (no $label label): using it as is" \
        "(BUILD_POSTGRES_IMAGE_REPLACE=1 replaces it)"
    printf '%s\n' "$tag"
    exit 0
fi

# --- Assemble the root file system -----------------------------------------------------------
started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/postgres-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"
# Same top-level layout as the host (Debian 12: /bin, /lib, /lib64, /sbin -> usr/...), so the
# paths ldd printed work unchanged inside the image.
for top in bin sbin lib lib32 lib64 libx32; do
    if [[ -L /$top ]]; then
        target=$(readlink "/$top")
        if [[ $target == /* ]]; then mkdir -p "$root$target"; else mkdir -p "$root/$target"; fi
        ln -s "$target" "$root/$top"
    fi
done
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/local/bin,etc,tmp,var/run/postgresql,var/lib/postgresql/data,docker-entrypoint-initdb.d}
mkdir -p "$root/bin"
chmod 1777 "$root/tmp"

# The real files (symlinks followed: -h) at the same paths inside the image; extraction goes
# through the image's own /lib -> usr/lib links.
printf '%s\n' "${elves[@]#/}" "${modules[@]#/}" "${libs[@]#/}" |
    tar -C / -c -h --verbatim-files-from -T - | tar -C "$root" -x
ln -s postgres "$root$bindir/postmaster"
# Data files: extensions' control/sql files, timezone sets, tsearch data (not the man pages).
mkdir -p "$root$sharedir"
for entry in "$sharedir"/*; do
    [[ $(basename "$entry") == man ]] && continue
    cp -a "$entry" "$root$sharedir/"
done
# Like the official image: the server listens on all addresses unless told otherwise.
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$root$sharedir/postgresql.conf.sample"
grep -q "^listen_addresses = '\*'" "$root$sharedir/postgresql.conf.sample" ||
    die "could not set listen_addresses in postgresql.conf.sample"
# Debian's PostgreSQL uses the system time zone database.
mkdir -p "$root/usr/share"
cp -a /usr/share/zoneinfo "$root/usr/share/"
rm -f "$root/usr/share/zoneinfo/localtime"
if [[ -n $locale_dir ]]; then
    mkdir -p "$root/usr/lib/locale"
    cp -a "$locale_dir" "$root/usr/lib/locale/"
fi
# The entrypoint's shell, at the path its shebang names.
ln -sf "$(command -v dash)" "$root/bin/sh"
install -m 0755 "$entrypoint" "$root/usr/local/bin/docker-entrypoint.sh"
ln -s usr/local/bin/docker-entrypoint.sh "$root/docker-entrypoint.sh"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
postgres:x:999:
nogroup:x:65534:
EOF
cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
mkdir -p "$root/root"
chmod 0700 "$root/root"
chmod 3777 "$root/var/run/postgresql"
chmod 1777 "$root/var/lib/postgresql/data"
if [[ $owner_mode == chown ]]; then
    chown -R 0:0 "$root"
    chown 999:999 "$root/var/lib/postgresql" "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
    tar_owner=(--numeric-owner)
else
    # Not root: everything is root-owned in the image; the entrypoint (running as root) still
    # creates and chowns PGDATA, only `docker run --user postgres` is not supported then.
    tar_owner=(--numeric-owner --owner=0 --group=0)
fi

# --- Load ------------------------------------------------------------------------------------
# `docker import --change` cannot set STOPSIGNAL (the engine only accepts CMD, ENTRYPOINT,
# ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, USER, VOLUME, WORKDIR there), and `docker build`
# would bring a builder (legacy or BuildKit) into it. So the script writes the image the way
# `docker save` does (one layer + its config + manifest.json) and hands it to `docker load`:
# no registry, no builder, every setting of the official image, on any engine since 1.10.
say "loading $tag from $bindir (PostgreSQL $full_version, $(du -sh "$root" | cut -f1))"
arch=$(docker version --format '{{ .Server.Arch }}' 2>/dev/null || true)
[[ -n $arch ]] || arch=$(dpkg --print-architecture)
image=$work/image
mkdir -p "$image/layer"
diff_id=$(tar -C "$root" "${tar_owner[@]}" -c . | tee "$image/layer/layer.tar" | sha256sum | cut -d' ' -f1)
json_string() { # the values here are paths, versions and hex digits; refuse anything else
    [[ $1 != *[\"\\]* ]] || die "cannot put $1 into the image config"
    printf '"%s"' "$1"
}
cat >"$image/config.json" <<EOF
{"architecture":$(json_string "$arch"),"os":"linux","created":"$(date -u +%Y-%m-%dT%H:%M:%SZ)",
"config":{
 "Env":[$(json_string "PATH=$bindir:/usr/local/bin:/usr/bin:/bin"),$(json_string "PG_MAJOR=$major"),
  $(json_string "PG_VERSION=$full_version"),$(json_string "LANG=$lang"),"PGDATA=/var/lib/postgresql/data"],
 "Entrypoint":["/usr/local/bin/docker-entrypoint.sh"],
 "Cmd":["postgres"],
 "ExposedPorts":{"5432/tcp":{}},
 "Volumes":{"/var/lib/postgresql/data":{}},
 "StopSignal":"SIGINT",
 "Labels":{$(json_string "$label"):$(json_string "$hash")}},
"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
"history":[{"created_by":$(json_string "tests/support/build-postgres-image.sh: PostgreSQL $full_version from $bindir")}]}
EOF
printf '[{"Config":"config.json","RepoTags":[%s],"Layers":["layer/layer.tar"]}]' \
    "$(json_string "$tag")" >"$image/manifest.json"
tar -C "$image" -c manifest.json config.json layer/layer.tar | docker load >/dev/null
new_id=$(docker image inspect --format '{{ .Id }}' "$tag")
# The previous local build under this tag is now dangling: remove it when nothing uses it.
if [[ -n $old_id && -n $existing && $old_id != "$new_id" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
fi
size=$(docker image inspect --format '{{ .Size }}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')
say "built $tag in $((SECONDS - started)) s ($size, $label=$hash)"
printf '%s\n' "$tag"
