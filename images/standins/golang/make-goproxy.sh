#!/bin/sh
# make-goproxy.sh MODULE SOURCE_DIR PROXY_DIR
# Lays out a Go module proxy (the GOPROXY protocol's @v/list, .info, .mod, .zip and @latest)
# for MODULE from the Debian source package downloaded in SOURCE_DIR. The module is the upstream
# tarball (*.orig.tar.*) as released: Debian's own changes are not applied, so the zip holds the
# same files as the real module and has the same hash.
set -eu
module=$1 source_dir=$2 proxy_dir=$3

dsc=$(ls "$source_dir"/*.dsc)
debian_version=$(sed -n 's/^Version: //p' "$dsc")
upstream=${debian_version#*:}
upstream=${upstream%-*}
version=v$upstream
case "$version" in
    v[0-9]*.[0-9]*.[0-9]*) ;;
    *) echo "make-goproxy: $debian_version is not a module version (vX.Y.Z)" >&2; exit 1 ;;
esac

work=$(mktemp -d)
tar -C "$work" -xf "$(ls "$source_dir"/*.orig.tar.*)"
top=$(ls "$work")
[ "$(echo "$top" | wc -l)" = 1 ] || { echo "make-goproxy: the tarball has several top folders" >&2; exit 1; }
grep -q "^module $module\$" "$work/$top/go.mod" || { echo "make-goproxy: go.mod does not declare $module" >&2; exit 1; }

# A module zip holds MODULE@VERSION/<files>; no directory entries, no extra attributes.
mkdir -p "$work/zip/$(dirname "$module")"
mv "$work/$top" "$work/zip/$module@$version"
out="$proxy_dir/$module/@v"
mkdir -p "$out"
(cd "$work/zip" && zip -q -r -D -X "$out/$version.zip" "$module@$version")
cp "$work/zip/$module@$version/go.mod" "$out/$version.mod"
# The release date is the tarball's own (its files carry the tag's time).
time=$(date -u -d "@$(stat -c %Y "$work/zip/$module@$version/go.mod")" +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version":"%s","Time":"%s"}\n' "$version" "$time" >"$out/$version.info"
printf '%s\n' "$version" >"$out/list"
cp "$out/$version.info" "$proxy_dir/$module/@latest"
rm -rf "$work"
echo "make-goproxy: $module $version from Debian $debian_version"
