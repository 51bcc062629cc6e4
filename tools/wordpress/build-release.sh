#!/usr/bin/env bash
# Build a WordPress release tarball for the web role (web_app_source_type: archive) from Debian's
# archive only: the wordpress package plus the packages its symlinks point into, dereferenced, with
# our wp-config.php (it reads /etc/ha-lamp/app.json) and without Debian's .htaccess link.
#
#   tools/wordpress/build-release.sh OUT.tar.gz
#
# Runs on the controller (Debian; apt-get download needs no root and installs nothing). The
# release is the controller's Debian release: run it on Debian 12 for Debian 12 web nodes.
# An OUT newer than this script, wp-config.php and every downloaded .deb is kept (prints "up to date").
set -euo pipefail

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUT.tar.gz" >&2
    exit 2
fi
out=$(realpath -m -- "$1")
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
config="$here/wp-config.php"

# wordpress: the code. php-getid3, libjs-underscore, libjs-cropper: where Debian's package links
# wp-includes/ID3, js/underscore* and js/crop to. The theme: wp-content/themes is empty without it.
packages=(wordpress php-getid3 libjs-underscore libjs-cropper wordpress-theme-twentytwentythree)

for tool in apt-get dpkg-deb tar gzip; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is missing (a Debian controller is required)" >&2; exit 1; }
done
[ -f "$config" ] || { echo "$0: $config is missing" >&2; exit 1; }
mkdir -p -- "$(dirname -- "$out")"

work=$(mktemp -d "${TMPDIR:-/tmp}/ha-lamp-wp-build.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/debs" "$work/root" "$work/tree"

# apt-get download writes into the current directory; as root it warns that _apt cannot write
# there (harmless, the download is done unsandboxed).
# A failed download is reported by the check below, package by package.
(
    if cd "$work/debs"; then
        apt-get download -qq "${packages[@]}" 2>&1 | grep -v 'unsandboxed' >&2 || true
    fi
)
for pkg in "${packages[@]}"; do
    ls "$work/debs/${pkg}_"*.deb >/dev/null 2>&1 || {
        echo "$0: apt-get download $pkg failed (is the package list current? apt-get update)" >&2
        exit 1
    }
done

# Same package versions, same script, same wp-config.php: keep the existing tarball.
versions=$(cd "$work/debs" && printf '%s\n' ./*.deb | sort)
stamp="$out.packages"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$out" -nt "$0" ] && [ "$out" -nt "$config" ] \
    && [ "$(cat "$stamp")" = "$versions" ]; then
    echo "up to date: $out ($(du -h "$out" | cut -f1), $(tar -tzf "$out" | grep -vc '/$') files)"
    exit 0
fi

# One root for all packages, so the relative links (../../../php/getid3/...) resolve inside it.
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
done
src="$work/root/usr/share/wordpress"
[ -f "$src/wp-settings.php" ] || { echo "$0: no wp-settings.php in the wordpress package" >&2; exit 1; }

# Debian's .htaccess links to /etc/wordpress (dot files are never served anyway) and its
# wp-config.php loads /etc/wordpress/config-<host>.php: both replaced.
rm -f -- "$src/.htaccess" "$src/wp-config.php"
# -L: every link becomes the file it points to (the absolute ca-bundle.crt link takes the
# controller's /etc/ssl/certs/ca-certificates.crt). A dangling link fails the copy.
cp -rL -- "$src/." "$work/tree/"
install -m 0644 -- "$config" "$work/tree/wp-config.php"

links=$(find "$work/tree" -type l | wc -l)
[ "$links" -eq 0 ] || { echo "$0: $links links left after dereferencing" >&2; exit 1; }
[ -d "$work/tree/wp-content/themes/twentytwentythree" ] || {
    echo "$0: theme twentytwentythree missing from the tree" >&2
    exit 1
}

# Owner root, sorted, so two builds of the same packages give the same member list.
tar -C "$work/tree" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out.tmp" .
mv -f -- "$out.tmp" "$out"
printf '%s\n' "$versions" >"$stamp"
echo "built: $out ($(du -h "$out" | cut -f1), $(find "$work/tree" -type f | wc -l) files)"
echo "packages: $(echo "$versions" | sed 's#^\./##' | tr '\n' ' ')"
