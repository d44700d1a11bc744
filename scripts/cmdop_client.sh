#!/usr/bin/env bash
# Runs the cmdop client sandboxed: files only under CMDOP_HOME (default ~/.cmdop), the network, and the environment it reads.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# `deno task` starts tasks in the project folder; the client works in the caller's.
if [ -n "${INIT_CWD:-}" ]; then cd "$INIT_CWD"; fi

# The same resolution as src/config/paths.ts: CMDOP_HOME, else $HOME/.cmdop, else $USERPROFILE/.cmdop.
home=${CMDOP_HOME:-}
if [ -z "$home" ]; then
  user_home=${HOME:-${USERPROFILE:-}}
  if [ -z "$user_home" ]; then
    echo "error: cannot tell where the cmdop config folder is" >&2
    echo "hint: set CMDOP_HOME (or HOME) to a folder cmdop may write to" >&2
    exit 1
  fi
  home="$user_home/.cmdop"
fi
# Deno takes permission paths literally (no ~ expansion) and resolves relative ones against the
# working folder, as the client does with a relative CMDOP_HOME.
case "$home" in /*) ;; *) home="$PWD/$home" ;; esac

readable=$home
# A custom CA bundle named by the user may sit anywhere: that one file is readable too.
if [ -n "${CMDOP_CA_FILE:-}" ]; then
  case "$CMDOP_CA_FILE" in /*) readable+=",$CMDOP_CA_FILE" ;; *) readable+=",$PWD/$CMDOP_CA_FILE" ;; esac
fi
# So may a share link's file named by --link-file, and an agent's state file named by
# --machine-credential or CMDOP_MACHINE_CREDENTIAL, that one file each, read only (commander
# takes the last flag; the remote command after -- is not cmdop's).
link_file=
machine_file=${CMDOP_MACHINE_CREDENTIAL:-}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --) break ;;
    --link-file) link_file=${args[i + 1]:-} && i=$((i + 1)) ;;
    --link-file=*) link_file=${args[i]#--link-file=} ;;
    --machine-credential) machine_file=${args[i + 1]:-} && i=$((i + 1)) ;;
    --machine-credential=*) machine_file=${args[i]#--machine-credential=} ;;
  esac
done
if [ -n "$link_file" ] && [ "$link_file" != "-" ]; then
  case "$link_file" in /*) readable+=",$link_file" ;; *) readable+=",$PWD/$link_file" ;; esac
fi
if [ -n "$machine_file" ]; then
  case "$machine_file" in /*) readable+=",$machine_file" ;; *) readable+=",$PWD/$machine_file" ;; esac
fi
# Deno splits permission lists at commas, with no escape.
for path in "$home" "${CMDOP_CA_FILE:-}" "$link_file" "$machine_file"; do
  if [[ "$path" == *,* ]]; then
    echo "error: cmdop cannot be granted a path with a comma in it: \"$path\"" >&2
    exit 1
  fi
done

# The variables the client may read (its own, commander's, @inquirer/*'s, Node's colour detection),
# shared with the compiled binaries; any other variable reads as unset (--ignore-env).
env_vars=$(tr -d '[:space:]"[]' <"$root/scripts/client_env.json")

exec "$root/scripts/deno" run --quiet --no-prompt --config "$root/deno.json" \
  --allow-read="$readable" --allow-write="$home" --allow-net \
  --allow-env="$env_vars" --ignore-env \
  "$root/main.ts" "$@"
