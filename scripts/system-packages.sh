#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing: as root
# it runs apt-get; otherwise it prints the one command to run and fails.
# Usage: scripts/system-packages.sh COMMAND=PACKAGE ...
set -euo pipefail

missing=()
for pair in "$@"; do
	cmd=${pair%%=*} pkg=${pair#*=}
	command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "the tests need Debian packages that are missing; run:" >&2
	echo "    sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
