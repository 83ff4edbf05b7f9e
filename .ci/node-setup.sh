#!/usr/bin/env bash
# Install what the first build of the Node.js runtime needs: aws-lambda-ric compiles a native addon
# (curl + aws-lambda-cpp) with g++, make, cmake, autoconf, automake and libtool. Idempotent; run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "node-setup: must run as root" >&2
  exit 1
fi

need=()
for pair in g++:g++ make:make cmake:cmake autoconf:autoconf automake:automake libtoolize:libtool; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "node-setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
node --version
npm --version
