#!/bin/sh
# Installs tfo-mcp: picks the release archive for this OS and CPU (glibc or musl), checks it
# against SHA256SUMS, and puts the binary in ~/.local/bin (or --prefix DIR/bin).
#
#   curl -fsSL https://github.com/telemetryflow/tfo-mcp/releases/latest/download/install.sh | sh
#   sh install.sh --prefix /usr/local --version 1.1.0
#
# TFO_MCP_BASE_URL overrides where the archives come from (a mirror, or a local server).
# Nothing is left behind on failure: downloads go to a temp folder that is always removed.
set -eu

REPO="telemetryflow/tfo-mcp"
prefix="${HOME}/.local"
version="latest"

usage() {
  cat <<EOF
Usage: install.sh [--prefix DIR] [--version X.Y.Z]
  --prefix DIR    install to DIR/bin (default ~/.local, so ~/.local/bin/tfo-mcp)
  --version V     a release version (default: the latest)
Environment: TFO_MCP_BASE_URL  base URL holding the archives and SHA256SUMS
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --version) version="${2:?--version needs a version}"; shift 2 ;;
    --version=*) version="${1#--version=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

fail() { echo "install.sh: $*" >&2; exit 1; }

os=$(uname -s)
case "$os" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) fail "no release for $os; on Windows download tfo-mcp-windows-x64.zip from the releases page" ;;
esac
arch=$(uname -m)
case "$arch" in
  x86_64|amd64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) fail "no release for CPU $arch (x64 and arm64 are built)" ;;
esac
# Rosetta reports x86_64 inside a translated shell on Apple silicon: prefer the native build.
if [ "$os" = darwin ] && [ "$arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
  arch=arm64
fi
platform="$os-$arch"
if [ "$os" = linux ] && { [ -e /etc/alpine-release ] || ldd --version 2>&1 | grep -qi musl; }; then
  [ "$arch" = x64 ] || fail "no musl build for $arch; only linux-x64-musl is built"
  platform="linux-x64-musl"
fi
asset="tfo-mcp-$platform.tar.gz"

if [ -n "${TFO_MCP_BASE_URL:-}" ]; then
  base="${TFO_MCP_BASE_URL%/}"
elif [ "$version" = latest ]; then
  base="https://github.com/$REPO/releases/latest/download"
else
  base="https://github.com/$REPO/releases/download/v${version#v}"
fi

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  fail "needs curl or wget"
fi
if command -v sha256sum >/dev/null 2>&1; then
  digest() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  digest() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  fail "needs sha256sum or shasum to check the download"
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t tfo-mcp)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "Downloading $asset from $base"
fetch "$base/$asset" "$tmp/$asset" || fail "download failed: $base/$asset"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || fail "download failed: $base/SHA256SUMS"
expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1 }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || fail "SHA256SUMS has no line for $asset"
actual=$(digest "$tmp/$asset")
[ "$expected" = "$actual" ] || fail "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed"

mkdir -p "$tmp/x"
tar -xzf "$tmp/$asset" -C "$tmp/x" tfo-mcp || fail "the archive does not hold tfo-mcp"
"$tmp/x/tfo-mcp" --version >/dev/null 2>&1 || fail "the downloaded binary does not run on this machine; nothing was installed"

bindir="$prefix/bin"
mkdir -p "$bindir"
# Copy beside the target, then rename: a running tfo-mcp is never left half-written.
cp "$tmp/x/tfo-mcp" "$bindir/.tfo-mcp.new"
chmod 755 "$bindir/.tfo-mcp.new"
mv -f "$bindir/.tfo-mcp.new" "$bindir/tfo-mcp"

echo "Installed $("$bindir/tfo-mcp" --version) to $bindir/tfo-mcp"
cmd=tfo-mcp
case ":$PATH:" in
  *":$bindir:"*) ;;
  *)
    cmd="$bindir/tfo-mcp"
    echo
    echo "$bindir is not on your PATH. Add it, e.g.:"
    echo "  echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.profile   # then open a new shell"
    ;;
esac
# Each set-up serves only the folders named or opened: never / or the whole home folder.
cat <<EOF

Next, add it to your MCP client:
  Claude Code (run in your project folder; serves that folder):
    claude mcp add tfo -- $cmd serve
  Claude Desktop (serves the folders you name; repeat --root for more):
    $cmd install claude-desktop --root ~/code/project
  Cursor (serves the folder Cursor has open):
    $cmd install cursor
EOF
