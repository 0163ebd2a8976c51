#!/usr/bin/env bash
# Installs the offline real datasets that xmodal's loaders (xmodal.data.sources) read:
# Debian packages, npm packages unpacked under $XMODAL_DATA_DIR (~/.cache/xmodal/data), and the
# gensim wheel's test data (downloaded, not installed). Skips whatever is already there.
set -euo pipefail
DATA="${XMODAL_DATA_DIR:-$HOME/.cache/xmodal/data}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEBS=(dataset-fashion-mnist sonic-pi-samples sound-theme-freedesktop python3.11-doc
      timgm6mb-soundfont)

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm_source NAME VERSION [MEMBER...]: unpack the npm package into $DATA/NAME/package; with
# MEMBERs (paths inside the tarball, e.g. package/emoji.json), only those files and folders.
npm_source() {
  local name=$1 version=$2
  shift 2
  if [ ! -f "$DATA/$name/package/package.json" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack "$name@$version" --silent >/dev/null)
    mkdir -p "$tmp/x" "$DATA/$name"
    tar -xzf "$tmp/$name-$version.tgz" -C "$tmp/x" "$@"
    rm -rf "$DATA/$name/package"  # a partial unpack, if any
    mv "$tmp/x/package" "$DATA/$name/package"  # whole, so package.json marks a complete unpack
    rm -rf "$tmp"
  fi
}
npm_source openmoji 17.0.0
# 74 MB tarball; keep only the metadata and the 64 px PNGs (3,786 files, 14 MB).
npm_source emoji-datasource-google 16.0.0 \
  package/package.json package/emoji.json package/img/google/64

# pypi_files NAME VERSION DEST FILE...: download NAME's wheel (not installing it) and copy the
# given files from it into DEST. The wheel is pinned to one platform so every machine gets the
# same file.
pypi_files() {
  local name=$1 version=$2 dest=$3
  shift 3
  local file need=0
  for file in "$@"; do [ -f "$dest/$(basename "$file")" ] || need=1; done
  [ "$need" -eq 0 ] && return 0
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then
    py=python3
    [ -x "$REPO/.venv/bin/python" ] && py="$REPO/.venv/bin/python"
  fi
  local tmp
  tmp=$(mktemp -d)
  "$py" -m pip download -qq --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_28_x86_64 "$name==$version" -d "$tmp"
  mkdir -p "$dest"
  "$py" - "$tmp"/*.whl "$dest" "$@" <<'PY'
import sys, zipfile
from pathlib import Path

wheel, dest, members = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for member in members:
        (dest / Path(member).name).write_bytes(z.read(member))
PY
  rm -rf "$tmp"
}
T=gensim/test/test_data
pypi_files gensim 4.4.0 "$DATA/gensim-test-data" \
  "$T/lee.cor" "$T/lee_background.cor" "$T/similarities0-1.txt" "$T/wordsim353.tsv" \
  "$T/simlex999.txt"

# deb_source PKG VERSION [PATTERN...]: `apt-get download` one pinned Debian package and unpack
# it under $DATA/deb/PKG (never installed: `apt install sweethome3d` would pull a JRE, `scratch`
# a Smalltalk VM). With PATTERNs (tar wildcards such as './usr/share/scratch/Media/*'), only the
# matching members. A `.complete` marker makes a re-run skip it and an interrupted one redo it.
deb_source() {
  local pkg=$1 version=$2
  shift 2
  local dest="$DATA/deb/$pkg"
  [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$version" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp"  # apt's _apt user writes the download here
  (cd "$tmp" && apt-get download -qq "$pkg=$version" 2>/dev/null)
  rm -rf "$dest"
  mkdir -p "$dest"
  if [ "$#" -eq 0 ]; then
    dpkg -x "$tmp"/*.deb "$dest"
  else
    dpkg --fsys-tarfile "$tmp"/*.deb | tar -x -C "$dest" --wildcards "$@"
  fi
  echo "$version" > "$dest/.complete"
  rm -rf "$tmp"
}
# Everyday images and sounds for the starters (../shared notes: data-sources-2.md). Nothing of
# the Open Clip Art Library: its drawings reappear inside other packages.
if ! apt-cache show sweethome3d-furniture >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
fi
deb_source sweethome3d-furniture 1.8-1
deb_source sweethome3d 7.0.2+dfsg-3 './usr/share/sweethome3d/sweethome3d.jar' \
  './usr/share/doc/sweethome3d/copyright'
deb_source cataclysm-dda-data 0.F-3-9
deb_source scratch 1.4.0.6~dfsg1-6.1 './usr/share/scratch/Media/*' './usr/share/doc/scratch/*'
deb_source gcompris-qt-data 3.1-2
deb_source openttd-opensfx 1.0.3-2
deb_source minetest-data 5.6.1+dfsg+~1.9.0mt8+dfsg-2
deb_source lincity-ng-data 2.9~git20150314-5
deb_source widelands-data 2:1.1-3 './usr/share/games/widelands/data/sound/*' \
  './usr/share/games/widelands/data/world/critters/*/*.ogg' './usr/share/doc/widelands-data/*'
deb_source wesnoth-1.16-data 1:1.16.9-1 './usr/share/games/wesnoth/1.16/data/core/sounds/*' \
  './usr/share/doc/wesnoth-1.16-data/*'
deb_source flare-game 1.14-1 './usr/share/games/flare/mods/fantasycore/soundfx/*' \
  './usr/share/doc/flare-game/*'

# npm_scoped NAME VERSION: like npm_source, for a scoped package (@scope/name) whose tarball is
# named scope-name-VERSION.tgz; unpacked into $DATA/@scope/name/package.
npm_scoped() {
  local name=$1 version=$2
  [ -f "$DATA/$name/package/package.json" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack "$name@$version" --silent >/dev/null)
  mkdir -p "$tmp/x" "$DATA/$name"
  tar -xzf "$tmp"/*.tgz -C "$tmp/x"
  rm -rf "$DATA/$name/package"
  mv "$tmp/x/package" "$DATA/$name/package"
  rm -rf "$tmp"
}
npm_scoped @iconify-json/fluent-emoji 1.2.7
npm_scoped @iconify-json/fluent-emoji-flat 1.2.6
npm_scoped @iconify-json/game-icons 1.2.4

echo "datasets ready (npm, PyPI and unpacked Debian ones under $DATA)"
