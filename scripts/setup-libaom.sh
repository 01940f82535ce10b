#!/usr/bin/env bash
# Makes this checkout build dropgen's AVIF encoder against a system libaom >= 3.12, the first
# libaom with `tune=iq` (all-intra tuning for still images: about 15-18 % fewer bytes at equal
# quality). Without this step the build compiles the libaom 3.11 bundled with libaom-sys,
# which works everywhere but encodes without tune=iq.
#
# Usage, from anywhere in the checkout:
#   scripts/setup-libaom.sh          install if needed, then point cargo at it
#   scripts/setup-libaom.sh --check  only say which libaom a build of this checkout would use
#   scripts/setup-libaom.sh --undo   go back to the bundled libaom 3.11 (packages stay)
#
# What it does:
# 1. Finds libaom >= 3.12 with a static libaom.a through pkg-config (Debian 13, Ubuntu 25.04+,
#    Homebrew, Alpine 3.22 ship one as libaom-dev or libaom).
# 2. On Debian 12 only, where none is packaged, installs Debian 13's libaom-dev and libaom3:
#    it adds the trixie suite from the mirror this machine already uses, with an apt
#    preference that gives trixie priority 1 (never chosen) except for those two packages.
#    Nothing else is upgraded; libaom3 needs only libc6 >= 2.34, which Debian 12 has.
# 3. Writes .cargo/config.toml in the checkout (ignored by git) with the LIB_AOM_* variables
#    that libaom-sys reads, so a plain `cargo build --release` links the system library.
#
# `dropgen build` names the libaom in use in its summary, and whether AVIF is tuned for images.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config="$repo/.cargo/config.toml"
marker="# Written by scripts/setup-libaom.sh"
min_major=3 min_minor=12

say() { printf 'setup-libaom: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

# "3.12.1" -> success when at least $min_major.$min_minor.
new_enough() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  ((major > min_major || (major == min_major && minor >= min_minor)))
}

# Prints "<version> <libdir> <includedir> <pcdir>" of a usable system libaom, or fails.
find_libaom() {
  command -v pkg-config >/dev/null || return 1
  local pc dir version libdir includedir
  # The multiarch and common pkg-config folders, in case PKG_CONFIG_PATH is not set up.
  local dirs=()
  if command -v gcc >/dev/null && [ -n "$(gcc -print-multiarch 2>/dev/null)" ]; then
    dirs+=("/usr/lib/$(gcc -print-multiarch)/pkgconfig")
  fi
  dirs+=(/usr/lib/pkgconfig /usr/lib64/pkgconfig /usr/local/lib/pkgconfig /opt/homebrew/lib/pkgconfig)
  for dir in "${dirs[@]}"; do
    pc="$dir/aom.pc"
    [ -f "$pc" ] || continue
    version=$(PKG_CONFIG_PATH="$dir" pkg-config --modversion aom 2>/dev/null) || continue
    new_enough "$version" || continue
    libdir=$(PKG_CONFIG_PATH="$dir" pkg-config --variable=libdir aom)
    includedir=$(PKG_CONFIG_PATH="$dir" pkg-config --variable=includedir aom)
    # libaom-sys links `static=aom`: a shared library alone is not enough.
    [ -f "$libdir/libaom.a" ] || continue
    [ -f "$includedir/aom/aom_encoder.h" ] || continue
    printf '%s %s %s %s\n' "$version" "$libdir" "$includedir" "$dir"
    return 0
  done
  return 1
}

# The URIs of this machine's Debian 12 main archive (deb822 or one-line format), so the added
# suite comes from the same mirror.
debian_mirror() {
  local uri
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "${uri:-}" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 == "bookworm" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "${uri:-}" ] || return 1
  printf '%s\n' "$uri"
}

install_from_trixie() {
  local mirror
  mirror=$(debian_mirror) || die "cannot find this machine's Debian 12 mirror in /etc/apt/sources.list{,.d/debian.sources}"
  say "adding Debian 13 (trixie) from $mirror, pinned so only libaom-dev and libaom3 come from it"
  as_root tee /etc/apt/sources.list.d/dropgen-trixie.sources >/dev/null <<EOF
$marker: libaom >= 3.12 (tune=iq) for dropgen's AVIF encoder.
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  as_root tee /etc/apt/preferences.d/dropgen-libaom >/dev/null <<EOF
$marker: take nothing from trixie but libaom.
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: libaom-dev libaom3
Pin: release n=trixie
Pin-Priority: 990
EOF
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends pkg-config libaom-dev/trixie libaom3/trixie >/dev/null
}

write_config() {
  local version=$1 libdir=$2 includedir=$3 pcdir=$4
  if [ -f "$config" ] && ! grep -qF "$marker" "$config"; then
    die "$config exists and was not written by this script; add these to its [env] yourself:
  LIB_AOM_STATIC_LIB_PATH = \"$libdir\"
  LIB_AOM_INCLUDE_PATH = \"$includedir\"
  LIB_AOM_PKG_CONFIG_PATH = \"$pcdir\""
  fi
  mkdir -p "$(dirname "$config")"
  cat >"$config" <<EOF
$marker (libaom $version, with tune=iq).
# libaom-sys links this libaom instead of compiling its bundled 3.11. Remove this file, or run
# scripts/setup-libaom.sh --undo, to go back to the bundled one.
[env]
LIB_AOM_STATIC_LIB_PATH = "$libdir"
LIB_AOM_INCLUDE_PATH = "$includedir"
LIB_AOM_PKG_CONFIG_PATH = "$pcdir"
EOF
  say "libaom $version from $libdir: cargo builds of this checkout link it ($config)"
}

case "${1:-}" in
  --check)
    if [ -f "$config" ] && grep -qF "$marker" "$config"; then
      sed -n '1p' "$config"
    elif found=$(find_libaom); then
      say "libaom ${found%% *} is installed but not set up: run scripts/setup-libaom.sh"
    else
      say "no libaom >= 3.12: builds use the bundled libaom 3.11 (no tune=iq)"
    fi
    exit 0 ;;
  --undo)
    if [ -f "$config" ] && grep -qF "$marker" "$config"; then rm "$config"; say "removed $config"; fi
    rmdir "$repo/.cargo" 2>/dev/null || true
    exit 0 ;;
  "") ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  *) die "unknown argument '$1' (--check, --undo or nothing)" ;;
esac

if ! found=$(find_libaom); then
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  if [ "$codename" = bookworm ] && command -v apt-get >/dev/null; then
    install_from_trixie
  elif command -v apt-get >/dev/null; then
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends pkg-config libaom-dev >/dev/null || true
  fi
  found=$(find_libaom) || die "no libaom >= $min_major.$min_minor with a static libaom.a was found or could be installed.
Install your system's libaom development package (libaom-dev, aom or libaom) if it has one;
otherwise builds keep using the bundled libaom 3.11, which encodes AVIF without tune=iq."
fi
# shellcheck disable=SC2086 # four words on purpose
write_config $found
