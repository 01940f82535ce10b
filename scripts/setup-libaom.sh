#!/usr/bin/env bash
# Makes this checkout build dropgen's AVIF encoder against the newest system libaom it can have:
# 3.14 or newer where it can be had, else 3.12 or 3.13. Those have `tune=iq`, the all-intra
# tuning for still images (about 15-18 % fewer bytes at equal quality than without it); 3.14
# tunes it further and encodes faster. Without this step the build compiles the libaom 3.11
# bundled with libaom-sys, which works everywhere but encodes without tune=iq.
#
# Usage, from anywhere in the checkout:
#   scripts/setup-libaom.sh          install if needed, then point cargo at it
#   scripts/setup-libaom.sh --check  only say which libaom a build of this checkout would use
#   scripts/setup-libaom.sh --undo   go back to the bundled libaom 3.11 (packages stay)
#
# What it does:
# 1. Finds the newest libaom >= 3.12 with a static libaom.a through pkg-config (Debian 13,
#    Ubuntu 25.04+, Homebrew, Alpine 3.22 ship one as libaom-dev or libaom).
# 2. On Debian 12 and 13, when that is older than 3.14, installs libaom-dev and libaom3 from
#    Debian forky (3.14.1), or failing that, on Debian 12, from trixie (3.12.1). It adds those
#    suites from the mirror this machine already uses, with an apt preference that gives them
#    priority 1 (never chosen) except for those two packages: nothing else is upgraded, and
#    libaom3 needs only libc6 >= 2.34, which Debian 12 has.
# 3. Writes .cargo/config.toml in the checkout (ignored by git) with the LIB_AOM_* variables
#    that libaom-sys reads, so a plain `cargo build --release` links the system library. When
#    the version differs from the last run's, it cleans the crates that link libaom: cargo does
#    not notice a new libaom.a at the same path by itself.
#
# `dropgen build` names the libaom in use in its summary, and whether AVIF is tuned for images.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
config="$repo/.cargo/config.toml"
marker="# Written by scripts/setup-libaom.sh"
min_major=3 min_minor=12   # the first libaom with tune=iq
want_major=3 want_minor=14 # what the defaults are calibrated on (docs/benchmarks.md)

say() { printf 'setup-libaom: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

# "3.12.1" 3 12 -> success when at least 3.12.
at_least() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  ((major > $2 || (major == $2 && minor >= $3)))
}

# Prints "<version> <libdir> <includedir> <pcdir>" of the newest usable system libaom, or fails.
find_libaom() {
  command -v pkg-config >/dev/null || return 1
  local pc dir version libdir includedir best= best_version=
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
    at_least "$version" "$min_major" "$min_minor" || continue
    libdir=$(PKG_CONFIG_PATH="$dir" pkg-config --variable=libdir aom)
    includedir=$(PKG_CONFIG_PATH="$dir" pkg-config --variable=includedir aom)
    # libaom-sys links `static=aom`: a shared library alone is not enough.
    [ -f "$libdir/libaom.a" ] || continue
    [ -f "$includedir/aom/aom_encoder.h" ] || continue
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best_version" "$version" | sort -V | tail -n1)" = "$version" ]; then
      best="$version $libdir $includedir $dir" best_version=$version
    fi
  done
  [ -n "$best" ] || return 1
  printf '%s\n' "$best"
}

# The URIs of this machine's Debian archive for the suite CODENAME (deb822 or one-line
# format), so the added suites come from the same mirror.
debian_mirror() {
  local codename=$1 uri=
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk -v suite="$codename" '
      /^URIs:/ { u = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) { print u; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk -v suite="$codename" '$1 == "deb" && $3 == suite {
      for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || return 1
  printf '%s\n' "$uri"
}

# Lets apt see the Debian suites SUITES (space-separated) from this machine's mirror, pinned so
# that only libaom-dev and libaom3 can ever come from them.
add_debian_suites() {
  local codename=$1 suites=$2 mirror suite preferences
  mirror=$(debian_mirror "$codename") ||
    die "cannot find this machine's Debian mirror for $codename in /etc/apt/sources.list{,.d/debian.sources}"
  say "adding Debian $suites from $mirror, pinned so only libaom-dev and libaom3 come from them"
  # What an earlier version of this script added: trixie alone, under other names.
  as_root rm -f /etc/apt/sources.list.d/dropgen-trixie.sources
  as_root tee /etc/apt/sources.list.d/dropgen-libaom.sources >/dev/null <<EOF
$marker: libaom with tune=iq for dropgen's AVIF encoder.
Types: deb
URIs: $mirror
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  preferences="$marker: take nothing from $suites but libaom."
  for suite in $suites; do
    preferences+=$'\n\n'"Package: *"$'\n'"Pin: release n=$suite"$'\n'"Pin-Priority: 1"
    preferences+=$'\n\n'"Package: libaom-dev libaom3"$'\n'"Pin: release n=$suite"$'\n'"Pin-Priority: 990"
  done
  printf '%s\n' "$preferences" | as_root tee /etc/apt/preferences.d/dropgen-libaom >/dev/null
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
}

# Installs libaom-dev and libaom3 from the Debian suite SUITE; fails if apt cannot.
install_from() {
  say "installing libaom-dev and libaom3 from Debian $1"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends pkg-config "libaom-dev/$1" "libaom3/$1" >/dev/null
}

write_config() {
  local version=$1 libdir=$2 includedir=$3 pcdir=$4 previous=
  if [ -f "$config" ] && ! grep -qF "$marker" "$config"; then
    die "$config exists and was not written by this script; add these to its [env] yourself:
  LIB_AOM_STATIC_LIB_PATH = \"$libdir\"
  LIB_AOM_INCLUDE_PATH = \"$includedir\"
  LIB_AOM_PKG_CONFIG_PATH = \"$pcdir\""
  fi
  [ -f "$config" ] && previous=$(sed -n 's/.*(libaom \([^,]*\), with tune=iq).*/\1/p' "$config")
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
  if [ -n "$previous" ] && [ "$previous" != "$version" ] && command -v cargo >/dev/null; then
    say "libaom was $previous at the last setup: cleaning the crates that link it"
    for profile in dev release; do
      (cd "$repo" && cargo clean --quiet --profile "$profile" -p libaom-sys -p libavif-sys -p dropgen) || true
    done
  fi
}

case "${1:-}" in
  --check)
    if [ -f "$config" ] && grep -qF "$marker" "$config"; then
      sed -n '1p' "$config"
    elif found=$(find_libaom); then
      say "libaom ${found%% *} is installed but not set up: run scripts/setup-libaom.sh"
    else
      say "no libaom >= $min_major.$min_minor: builds use the bundled libaom 3.11 (no tune=iq)"
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

found=$(find_libaom) || found=
if [ -z "$found" ] || ! at_least "${found%% *}" "$want_major" "$want_minor"; then
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  case "$codename" in
    bookworm | trixie)
      if [ "$codename" = bookworm ]; then suites="forky trixie"; else suites=forky; fi
      add_debian_suites "$codename" "$suites"
      install_from forky || { [ "$codename" = bookworm ] && install_from trixie; } ||
        say "could not install libaom from Debian $suites"
      ;;
    *)
      if [ -z "$found" ] && command -v apt-get >/dev/null; then
        as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
          --no-install-recommends pkg-config libaom-dev >/dev/null || true
      fi
      ;;
  esac
  found=$(find_libaom) || die "no libaom >= $min_major.$min_minor with a static libaom.a was found or could be installed.
Install your system's libaom development package (libaom-dev, aom or libaom) if it has one;
otherwise builds keep using the bundled libaom 3.11, which encodes AVIF without tune=iq."
fi
at_least "${found%% *}" "$want_major" "$want_minor" ||
  say "libaom ${found%% *} has tune=iq but is older than $want_major.$want_minor, which the defaults are calibrated on"
# shellcheck disable=SC2086 # four words on purpose
write_config $found
