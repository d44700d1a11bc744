#!/usr/bin/env bash
# Installs with apt-get the Debian packages of the programs tests run (scripts/test_packages.txt) that are missing.
#
# Usage: scripts/test_deps.sh [PROGRAM...]   (all programs of the list when none is named)
# Prints what it installs; exits 1 when a program is still missing afterwards (not root, no network…).
# apt-get update runs only when something must be installed; the dpkg lock is waited for, since
# other runs on this machine may be installing at the same time. Installing a server package
# must not start the system's own instance: policy-rc.d says no while this runs.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
list="$root/scripts/test_packages.txt"

# Where a program is: PATH, the sbin folders, or PostgreSQL's versioned bin folder; a python3:MODULE
# entry is there when Debian's python3 imports the module.
have() {
  local program=$1
  if [[ "$program" == python3:* ]]; then
    /usr/bin/python3 -c "import ${program#python3:}" >/dev/null 2>&1
    return
  fi
  PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin" command -v "$program" >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/$program" >/dev/null
}

declare -A package_of=()
while read -r program package _; do
  [[ -z "$program" || "$program" == \#* ]] && continue
  package_of[$program]=$package
done <"$list"

wanted=("$@")
[ "${#wanted[@]}" -eq 0 ] && wanted=("${!package_of[@]}")

missing=() packages=()
for program in "${wanted[@]}"; do
  package=${package_of[$program]:-}
  if [ -z "$package" ]; then
    echo "test_deps: \"$program\" is not in $list: add a line \"$program <debian-package>\"" >&2
    exit 2
  fi
  have "$program" && continue
  missing+=("$program")
  [[ " ${packages[*]} " == *" $package "* ]] || packages+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "test_deps: missing ${missing[*]} (packages ${packages[*]}); not root, so apt-get cannot run" >&2
  exit 1
fi

echo "test_deps: installing ${packages[*]} for ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
fi
apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q "$@" </dev/null
}
apt update >/dev/null 2>&1 || echo "test_deps: apt-get update failed" >&2
apt install -y --no-install-recommends "${packages[@]}" >/dev/null ||
  echo "test_deps: apt-get install ${packages[*]} failed" >&2
[ "$own_policy" -eq 1 ] && rm -f "$policy"

status=0
for program in "${missing[@]}"; do
  if ! have "$program"; then
    echo "test_deps: \"$program\" is still missing (package ${package_of[$program]})" >&2
    status=1
  fi
done
exit "$status"
