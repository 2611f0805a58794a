// One shared "now" for relative times, ticking every 30 s, so rows never each run a timer.

class Clock {
  now = $state(Date.now());
}

export const clock = new Clock();

let timer: ReturnType<typeof setInterval> | undefined;

export function startClock() {
  if (timer) return;
  timer = setInterval(() => (clock.now = Date.now()), 30_000);
}
