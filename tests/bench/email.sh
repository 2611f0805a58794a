#!/usr/bin/env bash
# Email sync benchmark: a local Dovecot with a generated 10,000-message mailbox (~440 MB),
# then, side by side: `sportello-cli sync --once` into an empty data folder, mbsync (isync)
# to a Maildir with its defaults, a raw `UID FETCH 1:* (BODY.PEEK[])`, a re-sync with
# nothing new, and new mail → event latency with IDLE (the daemon running). Usage: tests/bench/email.sh [MESSAGES]   (see docs/benchmarks.md)
set -euo pipefail
N=${1:-10000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] || [ -z "${SPORTELLO_BENCH_IN_SESSION:-}" ]; then
  export SPORTELLO_BENCH_IN_SESSION=1
  exec "$ROOT/tests/session.sh" "$0" "$@"
fi
command -v mbsync >/dev/null || { apt-get install -y --no-install-recommends isync >/dev/null; }
command -v dovecot >/dev/null || { echo "needs dovecot-imapd" >&2; exit 1; }
CLI=${SPORTELLO_CLI:-}
if [ -z "$CLI" ]; then
  (cd "$ROOT" && cargo build --release -q -p sportello-cli)
  CLI="${CARGO_TARGET_DIR:-$ROOT/target}/release/sportello-cli"
fi

W=$(mktemp -d /tmp/sportello-bench.XXXXXX); chmod 755 "$W"
trap '[ -f "$W/run/master.pid" ] && kill "$(cat "$W/run/master.pid")" 2>/dev/null; rm -rf "$W"' EXIT
mkdir -p "$W/run" "$W/state" "$W/home"; chmod 1777 "$W/home"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
USER_=bench@localhost; PW=bench-pw
echo "$USER_:{PLAIN}$PW::::::" > "$W/users"
if [ "$(id -u)" = 0 ]; then OWNER="uid=nobody gid=nogroup home=$W/home/%n"; EXTRA=""; else
  ME=$(id -un); OWNER="home=$W/home/%n"
  EXTRA="default_internal_user = $ME
default_login_user = $ME
service anvil {
  chroot =
}
service imap-login {
  chroot =
}"; fi
cat > "$W/dovecot.conf" <<CONF
base_dir = $W/run
state_dir = $W/state
log_path = $W/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_fsync = never
$EXTRA
service imap-login {
  inet_listener imap {
    port = $PORT
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $W/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $W/users
  override_fields = $OWNER
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
}
CONF
dovecot -c "$W/dovecot.conf"
D() { doveadm -c "$W/dovecot.conf" "$@"; }
D mailbox status -u "$USER_" messages INBOX >/dev/null
MD="$W/home/bench/Maildir"
echo "generating $N messages..."
python3 "$ROOT/tests/bench/gen_mailbox.py" "$MD/cur" "$N"
chown -R "$(stat -c %u "$MD")":"$(stat -c %g "$MD")" "$MD"
D force-resync -u "$USER_" INBOX
SIZE=$(du -sm "$MD/cur" | cut -f1)
echo "mailbox: $(D -f flow mailbox status -u "$USER_" messages INBOX), ${SIZE} MB"

now() { date +%s.%N; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# Raw lower bound: one UID FETCH of every body, read and discarded.
t0=$(now)
python3 - "$PORT" "$USER_" "$PW" <<'PY'
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); c.login(sys.argv[2], sys.argv[3]); c.select("INBOX", readonly=True)
typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])"); assert typ == "OK"
c.logout()
PY
t1=$(now); RAW=$(secs "$t0" "$t1")

# mbsync with its defaults (fsync on), pulling INBOX to a Maildir.
mkdir -p "$W/mbsync/INBOX"
cat > "$W/mbsyncrc" <<RC
IMAPAccount bench
Host 127.0.0.1
Port $PORT
User $USER_
Pass $PW
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path $W/mbsync/
Inbox $W/mbsync/INBOX

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
RC
t0=$(now); mbsync -q -c "$W/mbsyncrc" bench; t1=$(now); MBSYNC=$(secs "$t0" "$t1")
MBSYNC_N=$(find "$W/mbsync/INBOX" -type f | wc -l)

# Sportello: an empty data folder, the account, one sync.
export SPORTELLO_BENCH_PW=$PW
DATA="$W/data"
"$CLI" --data-dir "$DATA" account add-email --name Bench --address "$USER_" \
  --imap-host 127.0.0.1 --imap-port "$PORT" --imap-security plain \
  --smtp-host 127.0.0.1 --smtp-port 1 --smtp-security plain \
  --password-env SPORTELLO_BENCH_PW --no-test >/dev/null
t0=$(now); "$CLI" --data-dir "$DATA" sync --once >/dev/null; t1=$(now); SP=$(secs "$t0" "$t1")
SP_N=$("$CLI" --data-dir "$DATA" --json stats | python3 -c 'import json,sys;print(json.load(sys.stdin)["messages"])')
# Nothing new: best of 5 (process start, keyring read, connect, login, SELECT... included).
RESYNC=$(for i in 1 2 3 4 5; do t0=$(now); "$CLI" --data-dir "$DATA" sync --once >/dev/null; t1=$(now); python3 -c "print(f'{($t1 - $t0)*1000:.1f}')"; done | sort -n)
RESYNC_MS=$(echo "$RESYNC" | head -1); RESYNC_MED=$(echo "$RESYNC" | sed -n 3p)
# Where one such re-sync spends its time: the IMAP part's timing lines (from the start of
# the account's pass: signed in, folders known, caught up) and the process's CPU time.
/usr/bin/time -f "%e %U %S" -o "$W/time" env SPORTELLO_LOG=sportello_email::timing=debug \
  "$CLI" --data-dir "$DATA" sync --once >/dev/null 2>"$W/timing"
RESYNC_PARTS=$(python3 - "$W/timing" <<'PY'
import re, sys
parts = []
for line in open(sys.argv[1]):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # the log's colours
    m = re.search(r"timing: (.+?) account(?:_id)?=.*?ms=([0-9.]+)", line)
    if m:
        parts.append(f"{m.group(1)} {float(m.group(2)):.1f} ms")
print(", ".join(parts))
PY
)
read -r RESYNC_WALL RESYNC_U RESYNC_S < "$W/time"
DB=$(du -sm "$DATA" | cut -f1)

# New mail → notification with IDLE: `sportello-cli --json daemon` runs (its worker waits in
# IDLE on INBOX, as the app's does); one message at a time is delivered with `doveadm save`;
# timed from just before `doveadm save` starts to the daemon's `new_message` line, printed
# when the message is committed to the store and announced on the change stream the app's
# notifier reads (the app adds its 120 ms batching and the notification server's own time).
LATENCY=$(python3 - "$CLI" "$DATA" "$W/dovecot.conf" "$USER_" <<'PY'
import json, os, queue, re, statistics, subprocess, sys, threading, time
cli, data, conf, user = sys.argv[1:5]
# The worker's own pass timing ("caught up ... reused=true": a pass on the connection it
# kept from the last one, nothing new) goes to stderr.
env = dict(os.environ, SPORTELLO_LOG="sportello_email::timing=debug")
timing = open(os.path.join(os.path.dirname(data), "daemon-timing"), "w")
d = subprocess.Popen([cli, "--data-dir", data, "--json", "daemon", "--webhook-port", "0"],
                     stdout=subprocess.PIPE, stderr=timing, text=True, env=env)
events = queue.Queue()
def read():
    for line in d.stdout:
        try:
            events.put(json.loads(line))
        except ValueError:
            pass
threading.Thread(target=read, daemon=True).start()
def wait(pred, timeout):
    deadline = time.time() + timeout
    while True:
        e = events.get(timeout=max(0.01, deadline - time.time()))
        if pred(e):
            return e
try:
    wait(lambda e: e.get("event") == "account" and e.get("state") == "idle", 120)
    samples = []
    for i in range(5):
        time.sleep(1.5)  # back in IDLE
        msg = (f"From: Maria Rossi <maria.rossi@example.it>\r\nTo: Negozio <{user}>\r\n"
               f"Subject: Latenza {i}\r\nMessage-ID: <latency-{i}-{time.time_ns()}@example.it>\r\n"
               "Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n"
               f"\r\nCi siete? {i}\r\n").encode()
        t0 = time.time()
        subprocess.run(["doveadm", "-c", conf, "save", "-u", user, "-m", "INBOX"], input=msg, check=True)
        wait(lambda e: e.get("event") == "new_message", 30)
        samples.append(time.time() - t0)
    time.sleep(1.0)
finally:
    d.terminate()
    d.wait()
    timing.close()
kept = []
for line in open(os.path.join(os.path.dirname(data), "daemon-timing")):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # the log's colours
    if "caught up" in line and "reused=true" in line and "fetched=0" in line:
        kept.append(float(re.search(r"ms=([0-9.]+)", line).group(1)))
kept_med = f"{statistics.median(kept):.1f}" if kept else "n/a"
kept_max = f"{max(kept):.1f}" if kept else "n/a"
print(f"{statistics.median(samples):.2f} {max(samples):.2f} {kept_med} {kept_max} {len(kept)}")
PY
)
read -r LAT_MED LAT_MAX KEPT_MED KEPT_MAX KEPT_N <<< "$LATENCY"

cat <<OUT

| run | seconds | messages | vs mbsync | vs raw |
| --- | ---: | ---: | ---: | ---: |
| raw UID FETCH 1:* (BODY.PEEK[]) | $RAW | $N | | 1.00 |
| mbsync (defaults) | $MBSYNC | $MBSYNC_N | 1.00 | $(python3 -c "print(f'{$MBSYNC/$RAW:.2f}')") |
| sportello-cli sync --once | $SP | $SP_N | $(python3 -c "print(f'{$SP/$MBSYNC:.2f}')") | $(python3 -c "print(f'{$SP/$RAW:.2f}')") |
| re-sync, nothing new: whole CLI process, wall (best / median of 5) | $(python3 -c "print(f'{$RESYNC_MS/1000:.3f} / {$RESYNC_MED/1000:.3f}')") | 0 | | |
| re-sync, nothing new: the app's worker, kept connection (median / max of $KEPT_N passes) | $(python3 -c "print('n/a' if '$KEPT_MED' == 'n/a' else f'{$KEPT_MED/1000:.4f} / {$KEPT_MAX/1000:.4f}')") | 0 | | |
| new mail → new_message event, IDLE (median / max of 5) | $LAT_MED / $LAT_MAX | 1 each | | |

mailbox ${SIZE} MB; Sportello data folder ${DB} MB; $(nproc) cores; load before the runs: ${LOAD0}
one more CLI re-sync: ${RESYNC_WALL} s wall, ${RESYNC_U} s user + ${RESYNC_S} s system CPU; its IMAP pass: ${RESYNC_PARTS}
OUT
