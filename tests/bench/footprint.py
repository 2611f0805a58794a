#!/usr/bin/env python3
"""Measures a Tauri app's footprint the way a user meets it, for tests/bench/footprint.sh.

For each app given (Sportello on a big data folder, then an empty Tauri window) it starts the
app through tauri-driver + WebKitWebDriver and reports:

- start-up time, two ways: (1) launched directly, as a user does, from the launch until the
  page is drawn (Sportello logs when its first row was painted, `painted_unix_ms=` in its log;
  the empty window prints `loaded_unix_ms=` when its page has loaded), best and median of a
  few launches; (2) under WebDriver, from the app process's start (its start time in /proc)
  until the page shows what it is for (Sportello: the first conversation row exists; the
  empty window: the document is loaded), polled over WebDriver every ~15 ms — WebDriver's
  session adds its own start-up, so (1) is the user's figure;
- memory: the summed PSS (/proc/PID/smaps_rollup) of the app and every process under it
  (WebKitWebProcess, WebKitNetworkProcess...), after start, after use (Sportello: the list
  scrolled end to end and 50 conversations opened one after another) and after the idle
  period;
- idle CPU: utime + stime of the same processes over the idle period, with nothing touched.

Runs inside tests/session.sh (a display, a session bus, a keyring). Standard library only.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def now_boot() -> float:
    """Seconds since boot, the clock /proc start times are on."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stat(pid: int):
    """(ppid, utime + stime ticks, start time in ticks after boot) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    # The name may hold spaces and parentheses: the fields follow the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19])


def name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def tree(root: int):
    """`root` and every process under it."""
    children = {}
    for pid in all_pids():
        s = stat(pid)
        if s:
            children.setdefault(s[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def direct_starts(binary: str, env: dict, log_dir, runs: int) -> dict:
    """Launches `binary` `runs` times straight (no WebDriver) and times each launch until the
    app says its page was drawn: `painted_unix_ms=` in a log file under `log_dir` (Sportello),
    or `loaded_unix_ms=` on stdout (the empty window)."""
    key = "painted_unix_ms=" if log_dir else "loaded_unix_ms="
    seconds = []
    for _ in range(runs):
        launched = time.time()
        app = subprocess.Popen(
            [binary], env={**os.environ, **env}, stdout=subprocess.PIPE,
            stderr=None if os.environ.get("FOOTPRINT_VERBOSE") else subprocess.DEVNULL, text=True,
        )
        drawn = None
        try:
            deadline = time.time() + 60
            while drawn is None and time.time() < deadline:
                if log_dir:
                    time.sleep(0.05)
                    for entry in os.scandir(log_dir) if os.path.isdir(log_dir) else []:
                        with open(entry.path, errors="replace") as f:
                            for line in f:
                                if key in line:
                                    at = float(line.split(key, 1)[1].split()[0]) / 1000
                                    if at > launched:
                                        drawn = at
                else:
                    line = app.stdout.readline()
                    if not line:
                        break
                    if line.startswith(key):
                        drawn = float(line[len(key):]) / 1000
        finally:
            app.terminate()
            try:
                app.wait(20)
            except subprocess.TimeoutExpired:
                app.kill()
                app.wait()
            # The web processes go with their app; let them, before the next launch.
            time.sleep(1.5)
        if drawn is None:
            raise SystemExit(f"{binary} never said its page was drawn")
        seconds.append(round(drawn - launched, 3))
    ordered = sorted(seconds)
    if not ordered:  # --launches 0
        return None
    return {"runs_s": seconds, "best_s": ordered[0], "median_s": ordered[len(ordered) // 2]}


def find_app(binary: str, under: int, timeout: float = 30.0) -> int:
    """The pid of `binary` started somewhere under the driver `under`."""
    binary = os.path.realpath(binary)
    deadline = time.time() + timeout
    while time.time() < deadline:
        for pid in tree(under):
            try:
                if os.path.realpath(f"/proc/{pid}/exe") == binary:
                    return pid
            except OSError:
                continue
        time.sleep(0.01)
    raise SystemExit(f"{binary} did not start under tauri-driver")


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(app: int):
    procs = [(pid, name(pid), pss_kib(pid)) for pid in tree(app)]
    return {
        "pss_mib": round(sum(p[2] for p in procs) / 1024, 1),
        "processes": [{"name": n, "pss_mib": round(k / 1024, 1)} for _, n, k in procs],
    }


def cpu_ticks(app: int) -> int:
    return sum((stat(pid) or (0, 0, 0))[1] for pid in tree(app))


class Driver:
    """The few W3C WebDriver calls used here, over tauri-driver."""

    def __init__(self, driver: str, app: str, env: dict):
        self.port = free_port()
        self.process = subprocess.Popen(
            [driver, "--port", str(self.port), "--native-port", str(free_port())],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            # The app's own complaints (a panic) are worth seeing; the driver's chatter is not.
            stderr=None if os.environ.get("FOOTPRINT_VERBOSE") else subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        deadline = time.time() + 20
        while True:
            try:
                answer = self.request(
                    "POST",
                    "/session",
                    {"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}},
                )
                self.session = answer["value"]["sessionId"]
                return
            except (urllib.error.URLError, ConnectionError):
                if time.time() > deadline:
                    raise
                time.sleep(0.02)

    # Requests tauri-driver dropped without an answer and that were sent again.
    retries = 0

    def request(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        # tauri-driver forwards each request to WebKitWebDriver over a pooled keep-alive
        # connection with hyper's retry of "canceled" requests turned off: when WebKitWebDriver
        # has just closed that idle connection, the request is never delivered and tauri-driver
        # drops ours without an answer ("Remote end closed connection without response"). The
        # session is fine; the request was not carried out, so sending it again is safe. (This
        # is what ended the earlier runs after 3-13 opens.)
        for attempt in range(6):
            req = urllib.request.Request(
                self.base + path,
                data=data,
                method=method,
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    return json.load(resp)
            except urllib.error.HTTPError as e:
                return json.load(e)
            except (http.client.RemoteDisconnected, ConnectionResetError) as e:
                if attempt == 5 or self.session is None:
                    raise
                Driver.retries += 1
                if os.environ.get("FOOTPRINT_VERBOSE"):
                    print(f"    {method} {path}: {e!r}, sending again", file=sys.stderr)
                time.sleep(0.05)

    def call(self, method: str, path: str, body=None):
        return self.request(method, f"/session/{self.session}{path}", body)["value"]

    def script(self, js: str, *args):
        return self.call("POST", "/execute/sync", {"script": js, "args": list(args)})

    def close(self):
        if self.session:
            try:
                self.request("DELETE", f"/session/{self.session}")
            except Exception:  # the session may be gone already
                pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_script(driver: Driver, js: str, timeout: float, poll: float = 0.1):
    # Each poll is a new HTTP connection through tauri-driver to WebKitWebDriver: polling
    # fast for long ends the session (seen after ~1,000 requests), so only the start-up
    # measurement polls fast.
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.script(js)
        if value and not (isinstance(value, dict) and "error" in value):
            return value
        time.sleep(poll)
    raise SystemExit(f"timed out after {timeout} s waiting for: {js}")


# The list's scrolling element: the nearest ancestor of a row that scrolls.
SCROLLER = """
  let el = document.querySelector('[data-testid=conversation-row]');
  while (el && !(el.scrollHeight > el.clientHeight + 1 && getComputedStyle(el).overflowY !== 'visible')) {
    el = el.parentElement;
  }
"""


def use_sportello(driver: Driver, app: int, opens: int, progress: dict):
    """Scrolls the list end to end in screenfuls, then opens `opens` conversations in turn
    (the memory in between goes into `progress["after_scroll"]`)."""
    height = driver.script(SCROLLER + "return el ? el.scrollHeight : 0;")
    page = driver.script(SCROLLER + "return el ? el.clientHeight : 0;")
    # Fifty screenfuls down from the top, then jumps through the whole list, then back up.
    targets = [i * page for i in range(50)] + [height * f / 20 for f in range(21)] + [0]
    for top in targets:
        driver.script(SCROLLER + "el.scrollTop = arguments[0];", top)
        time.sleep(0.05)
    wait_script(driver, "return document.querySelector('[data-testid=conversation-row]') !== null;", 20)
    time.sleep(5)
    progress["after_scroll"] = memory(app)
    print(f"    after scrolling: {progress['after_scroll']['pss_mib']} MiB PSS", file=sys.stderr)
    opened = 0
    for i in range(opens):
        # Bring row i into view, wait for it, click it, wait for its thread.
        driver.script(SCROLLER + "el.scrollTop = Math.max(0, arguments[0] * 68 - 100);", i)
        css = f'[data-testid=conversation-row][data-index="{i}"]'
        wait_script(driver, f"return document.querySelector('{css}') !== null;", 20)
        row = driver.call("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]
        cid = driver.call("GET", f"/element/{row}/attribute/data-conversation")
        driver.call("POST", f"/element/{row}/click", {})
        wait_script(
            driver,
            f"return document.querySelector('[data-testid=thread][data-conversation=\"{cid}\"]') !== null;",
            20,
        )
        opened += 1
        progress["opened"] = opened
        if os.environ.get("FOOTPRINT_VERBOSE"):
            print(f"    opened {opened}: conversation {cid}", file=sys.stderr)
    return opened


# What the page knows of its own start: when its navigation started (timeOrigin, wall clock, ms),
# the navigation timings and the app's performance marks (ms after timeOrigin).
PERFORMANCE = """
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    origin: performance.timeOrigin,
    nav: nav ? {response_end: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd,
                load: nav.loadEventEnd} : {},
    marks: performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]),
  };
"""


def page_phases(driver: Driver, started_boot: float) -> dict:
    """Seconds from the app process's start to each point the page timed: `page_start` (the
    window's navigation began), the navigation timings, then Sportello's marks
    (`sportello:script`, `sportello:ready`, `sportello:first-row`, `sportello:loaded`)."""
    perf = driver.script(PERFORMANCE)
    if not isinstance(perf, dict) or "origin" not in perf:
        return {"error": str(perf)}
    # The process start is on the boot clock; timeOrigin on the wall clock.
    started_wall = time.time() - (now_boot() - started_boot)
    origin = perf["origin"] / 1000 - started_wall
    phases = {"page_start": round(origin, 3)}
    for key, ms in perf["nav"].items():
        if ms:
            phases[key] = round(origin + ms / 1000, 3)
    for mark, ms in perf["marks"]:
        phases[mark] = round(origin + ms / 1000, 3)
    return phases


def measure(label: str, binary: str, driver_bin: str, env: dict, ready_js: str, idle: float, opens: int):
    print(f"==> {label}: starting", file=sys.stderr)
    driver = Driver(driver_bin, binary, env)
    try:
        app = find_app(binary, driver.process.pid)
        started = stat(app)[2] / TICK
        wait_script(driver, ready_js, 60, poll=0.015)
        startup = now_boot() - started
        print(f"    ready after {startup:.3f} s", file=sys.stderr)
        time.sleep(5)
        phases = page_phases(driver, started)
        print(f"    phases (s after the process started): {phases}", file=sys.stderr)
        after_start = memory(app)
        print(f"    after start: {after_start['pss_mib']} MiB PSS", file=sys.stderr)
        opened, use_error = 0, None
        if opens:
            t = time.time()
            progress = {"opened": 0}
            try:
                use_sportello(driver, app, opens, progress)
            except (OSError, KeyError, TypeError, SystemExit) as e:
                # The WebDriver session can end mid-way (seen here after 3-13 opens): what was
                # opened is reported, and the rest is measured anyway from /proc.
                use_error = f"{type(e).__name__}: {e}"
            opened = progress["opened"]
            print(f"    scrolled and opened {opened} in {time.time() - t:.1f} s {use_error or ''}", file=sys.stderr)
        app_alive = stat(app) is not None
        time.sleep(10)
        after_use = memory(app)
        print(f"    after use: {after_use['pss_mib']} MiB PSS; idle {idle:.0f} s", file=sys.stderr)
        ticks0, t0 = cpu_ticks(app), time.time()
        time.sleep(idle)
        ticks1, t1 = cpu_ticks(app), time.time()
        after_idle = memory(app)
        cpu_s = (ticks1 - ticks0) / TICK
        result = {
            "startup_s": round(startup, 3),
            "phases_s": phases,
            "driver_retries": Driver.retries,
            "after_start": after_start,
            "opened": opened,
            "use_error": use_error,
            "app_alive_after_use": app_alive,
            "after_scroll": progress.get("after_scroll") if opens else None,
            "after_use": after_use,
            "after_idle": after_idle,
            "idle_s": round(t1 - t0, 1),
            "idle_cpu_s": round(cpu_s, 2),
            "idle_cpu_percent_of_one_core": round(100 * cpu_s / (t1 - t0), 3),
        }
        print(f"    idle CPU {cpu_s:.2f} s over {t1 - t0:.0f} s", file=sys.stderr)
        return result
    finally:
        driver.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--empty", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--idle-seconds", type=float, default=300)
    ap.add_argument("--opens", type=int, default=50)
    # For trying things out: only Sportello's side, with extra environment variables.
    ap.add_argument("--sportello-only", action="store_true")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--launches", type=int, default=5, help="direct launches timed per app")
    a = ap.parse_args()
    extra = dict(item.split("=", 1) for item in a.env)
    sportello_env = {"SPORTELLO_DATA_DIR": a.data_dir, "LANG": "it_IT.UTF-8", **extra}
    logs = os.path.join(a.data_dir, "logs")
    print(f"==> direct launches ({a.launches} each)", file=sys.stderr)
    direct = {"sportello": direct_starts(a.app, sportello_env, logs, a.launches)}
    print(f"    Sportello: {direct['sportello']}", file=sys.stderr)
    if a.sportello_only:
        result = measure(
            "Sportello",
            a.app,
            a.driver,
            sportello_env,
            "return document.querySelector('[data-testid=conversation-row]') !== null;",
            a.idle_seconds,
            a.opens,
        )
        print(json.dumps({"direct_start": direct, "sportello": result}, indent=2))
        return
    direct["empty_window"] = direct_starts(a.empty, {}, None, a.launches)
    print(f"    empty window: {direct['empty_window']}", file=sys.stderr)
    results = {
        "direct_start": direct,
        "empty_window": measure(
            "empty Tauri window",
            a.empty,
            a.driver,
            {},
            "return document.readyState === 'complete' && document.body !== null;",
            a.idle_seconds,
            0,
        ),
        "sportello": measure(
            "Sportello",
            a.app,
            a.driver,
            sportello_env,
            "return document.querySelector('[data-testid=conversation-row]') !== null;",
            a.idle_seconds,
            a.opens,
        ),
    }
    # Sportello turns WebKit's GPU compositing off on Linux (desktop::software_rendering); the
    # same empty window drawn that way shows how much of the saving is WebKit's, not Sportello's.
    results["empty_window_software"] = measure(
        "empty Tauri window without GPU compositing",
        a.empty,
        a.driver,
        {"WEBKIT_DISABLE_COMPOSITING_MODE": "1"},
        "return document.readyState === 'complete' && document.body !== null;",
        min(a.idle_seconds, 10),
        0,
    )
    e, s = results["empty_window"], results["sportello"]
    results["comparison"] = {
        key: {
            "sportello_mib": s[key]["pss_mib"],
            "empty_mib": e[key]["pss_mib"],
            "difference_mib": round(s[key]["pss_mib"] - e[key]["pss_mib"], 1),
            "ratio": round(s[key]["pss_mib"] / e[key]["pss_mib"], 2),
        }
        for key in ("after_start", "after_use", "after_idle")
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
