#!/usr/bin/env bash
# Footprint benchmark (docs/benchmarks.md, "Footprint"): the release app on a data folder of
# 100,000 conversations / 1,000,000 messages against an empty Tauri window, in the same run:
# start-up time to a painted inbox, summed PSS of the app and its WebKit processes after
# start / after scrolling and opening 50 conversations / after idling, and CPU used while idle.
#
#   tests/bench/footprint.sh                      # the real run: 300 s idle each
#   tests/bench/footprint.sh --idle-seconds 20    # a quick try
#   options: --conversations N --messages N (data size), --opens N (conversations opened)
#
# Needs what `.ci/setup test` installs (Xvfb, dbus, gnome-keyring, WebKitWebDriver,
# tauri-driver). The generated data folder is kept in target/bench/ and copied for each run
# (opening conversations marks them read). Prints the figures as JSON on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}

idle=300 conversations=100000 messages=1000000 opens=50
while [ $# -gt 0 ]; do
  case "$1" in
    --idle-seconds) idle=$2; shift 2 ;;
    --conversations) conversations=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --opens) opens=$2; shift 2 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

driver="$target/tools/bin/tauri-driver"
[ -x "$driver" ] || { echo "tauri-driver is missing: run .ci/setup test" >&2; exit 1; }

echo "==> building the UI, the release app and CLI, and the empty window" >&2
(cd ui && npm run build >&2)
cargo build --release -p sportello --features sportello/custom-protocol >&2
cargo build --release -p sportello-cli >&2
cargo build --release --locked --manifest-path tests/bench/empty-window/Cargo.toml \
  --target-dir "$target" >&2

pristine="$target/bench/footprint-$conversations-$messages"
if [ ! -f "$pristine/generated.json" ]; then
  echo "==> generating $conversations conversations / $messages messages" >&2
  rm -rf "$pristine"; mkdir -p "$pristine"
  "$target/release/sportello-cli" --data-dir "$pristine" bench generate \
    --conversations "$conversations" --messages "$messages" >"$pristine/generated.json.tmp"
  mv "$pristine/generated.json.tmp" "$pristine/generated.json"
fi
cat "$pristine/generated.json" >&2
# Bring the kept data up to this build's schema once (opening the store migrates it), so each
# run measures the app's start-up, not a one-off migration of 100,000 conversations.
"$target/release/sportello-cli" --data-dir "$pristine" conversations --limit 1 >/dev/null

data=$(mktemp -d "$target/bench/footprint-run.XXXXXX")
trap 'rm -rf "$data"' EXIT
cp -a "$pristine/." "$data/"
rm -f "$data/generated.json"

echo "==> measuring (idle ${idle} s each; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
tests/session.sh python3 tests/bench/footprint.py \
  --app "$target/release/sportello" --empty "$target/release/empty-window" \
  --driver "$driver" --data-dir "$data" --idle-seconds "$idle" --opens "$opens" \
  | sed -n '/^{/,$p'  # the accessibility bus, started on demand, also writes to stdout
