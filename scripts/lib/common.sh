# Shared by the scripts: repository root, logging, and installing what a fresh Debian 12 lacks.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT

# The Swift sources swift format checks (scripts/test) and rewrites (scripts/format), from $ROOT.
FORMATTED_PATHS="Sources Tests Package.swift Benchmarks/Package.swift Benchmarks/Sources"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_debs PACKAGE…: installs the Debian packages that are not installed yet (needs root).
ensure_debs() {
    local missing=()
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The build dependencies every script needs: libsystemd for the CSystemd module, SQLite for
# the state store (GRDB links the system library).
ensure_build_deps() {
    command -v swift >/dev/null || die "swift is not on PATH (install a Swift 6.2+ toolchain)"
    ensure_debs libsystemd-dev libsqlite3-dev pkg-config
}

# build_release: the release binaries as they are installed: pybgd with the Swift runtime linked in,
# pybgd-exec, and pybgctl fully static (no dynamic loader, no libswift*.so: a plain submit starts
# in about a millisecond, where the dynamic one `swift build` gives takes 2 to 4 times as long).
# Sets pybgctl_binary to the pybgctl built (the static one unless this toolchain cannot link it).
build_release() {
    swift build -c release --product pybgd --static-swift-stdlib >/dev/null
    swift build -c release --product pybgd-exec >/dev/null
    swift build -c release --product pybgctl -Xswiftc -static-executable --scratch-path .build-static >/dev/null 2>&1 \
        || swift build -c release --product pybgctl --static-swift-stdlib >/dev/null
    pybgctl_binary=.build-static/release/pybgctl
    [ -x "$pybgctl_binary" ] || pybgctl_binary=.build/release/pybgctl
}
