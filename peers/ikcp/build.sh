#!/usr/bin/env bash
# Builds the ikcp peer: installs what is missing on Debian (Node.js, npm, and node-gyp's needs:
# python3, make, g++ and Node's headers), then `npm ci` here, which builds node-kcp's bundled ikcp.c
# with node-gyp. Idempotent: does nothing when the addon is built for this lock file and this Node.
# Runs as root, or as a user with sudo. Exits non-zero with the reason when it cannot build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
stamp=node_modules/.kcplab-built

die() { echo "peers/ikcp/build.sh: $*" >&2; exit 1; }

# as_root runs a command as root: directly when we are root, else through sudo (which may ask for
# the password, as the top-level Makefile's sudo does).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root, or sudo, to run: $*"
	fi
}

apt_updated=
apt_install() {
	command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it (not Debian?)"
	if [ -z "$apt_updated" ]; then
		as_root apt-get update -qq || die "apt-get update failed"
		apt_updated=1
	fi
	echo "peers/ikcp/build.sh: installing $*" >&2
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# The tools: Node.js and npm, and what node-gyp compiles with.
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v python3 >/dev/null || missing+=(python3)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# Debian's nodejs comes without npm (a package of its own); NodeSource's nodejs includes it.
command -v npm >/dev/null || apt_install npm
command -v npm >/dev/null || die "npm is not installed"

# Node's headers, which node-gyp would otherwise download (not reachable here). They live in
# PREFIX/include/node beside PREFIX/bin/node: NodeSource's nodejs ships them, Debian's nodejs takes
# them from libnode-dev.
prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
headers="$prefix/include/node"
if [ ! -f "$headers/node_version.h" ] || [ ! -f "$headers/common.gypi" ]; then
	dpkg -S "$(readlink -f "$(command -v node)")" 2>/dev/null | grep -q '^nodejs:' ||
		die "no Node headers in $headers, and this node ($(command -v node)) is not Debian's: install its headers there"
	apt_install libnode-dev
fi
[ -f "$headers/node_version.h" ] || die "no Node headers in $headers after installing libnode-dev"
node_major=$(node -p 'process.versions.node.split(".")[0]')
header_major=$(sed -n 's/^#define NODE_MAJOR_VERSION \([0-9]*\).*/\1/p' "$headers/node_version.h")
[ "$node_major" = "$header_major" ] ||
	die "node is v$(node -p 'process.versions.node') but the headers in $headers are for $header_major: an addon built with them would not load"

# The build: npm ci with node-gyp pointed at the headers, unless it is done for this lock and Node.
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node -v)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && node -e 'require("node-kcp/index.js")' 2>/dev/null; then
	echo "peers/ikcp: up to date"
	exit 0
fi
npm_config_nodedir="$prefix" npm ci --no-audit --no-fund --loglevel=error ||
	die "npm ci failed (see above)"
# npm 11 runs only the install scripts that package.json's allowScripts allows (node-kcp's is).
[ -f node_modules/node-kcp/build/Release/kcp.node ] ||
	die "npm ci did not build node-kcp (its install script, node-gyp rebuild, did not run: see allowScripts in package.json)"
node -e 'require("node-kcp/index.js")' || die "node-kcp was built but does not load"
echo "$want" >"$stamp"
echo "peers/ikcp: built ($(node -v), $(node -e 'process.stdout.write(require("node-kcp/package.json").version)') node-kcp)"
