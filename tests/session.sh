#!/usr/bin/env bash
# Runs a command inside a private desktop session like a user's: a D-Bus session bus, an
# unlocked gnome-keyring (Secret Service), an Xvfb display and the dunst notification daemon.
# Nothing touches the real user's keyring, display or home:
#   tests/session.sh cargo test --test tests
# Inside, SPORTELLO_TEST_SESSION=1 is set so tests that need these parts know they have them.
set -euo pipefail

if [ -z "${SPORTELLO_SESSION_INNER:-}" ]; then
  scratch=$(mktemp -d /tmp/sportello-session.XXXXXX)
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/data" "$scratch/runtime" "$scratch/config"
  chmod 700 "$scratch/runtime"
  export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime" \
    XDG_CONFIG_HOME="$scratch/config" SPORTELLO_SESSION_INNER=1 SPORTELLO_SESSION_DIR="$scratch"
  status=0
  dbus-run-session -- "$0" "$@" || status=$?
  exit $status
fi

scratch=$SPORTELLO_SESSION_DIR
display=":$((90 + RANDOM % 400))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >"$scratch/xvfb.log" 2>&1 &
xvfb=$!
export DISPLAY=$display
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
dbus-update-activation-environment DISPLAY XDG_DATA_HOME XDG_RUNTIME_DIR XDG_CONFIG_HOME
# The keyring: unlocked with a throwaway password, Secret Service only.
eval "$(echo -n sportello-test | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# Notifications expire after a second even on an idle display, so that tests read them from
# dunst's history over D-Bus (dunst keeps them on screen while the user is idle, which Xvfb always is).
cat >"$scratch/dunstrc" <<'CONF'
[global]
idle_threshold = 0
[urgency_low]
timeout = 1
[urgency_normal]
timeout = 1
[urgency_critical]
timeout = 1
CONF
dunst -config "$scratch/dunstrc" >"$scratch/dunst.log" 2>&1 &
dunst_pid=$!
has_owner() {
  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}
for _ in $(seq 1 100); do has_owner org.freedesktop.Notifications && break; sleep 0.1; done

cleanup() {
  kill "$dunst_pid" "$xvfb" 2>/dev/null || true
  pkill -u "$(id -u)" -f "gnome-keyring-daemon.*$scratch" 2>/dev/null || true
}
trap cleanup EXIT
export SPORTELLO_TEST_SESSION=1
status=0
"$@" || status=$?
exit $status
