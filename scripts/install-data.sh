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

echo "datasets ready (npm and PyPI ones under $DATA)"
