// Dates, durations and sizes in the user's locale. Everything goes through Intl.

import { formatNumber, i18n, t } from './index.svelte';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Whole calendar days between two instants (0 = same day, 1 = yesterday). */
function daysBetween(then: number, now: number): number {
  return Math.round((startOfDay(now) - startOfDay(then)) / DAY);
}

type Formatter = Intl.DateTimeFormat | Intl.NumberFormat | Intl.RelativeTimeFormat;

// Building an Intl formatter costs far more than using one, and a scrolling list formats
// thousands of times: keep one per locale and options.
const formatters = new Map<string, Formatter>();

function cached<T extends Formatter>(
  kind: string,
  options: object,
  make: (locale: string) => T,
): T {
  const key = `${kind}|${i18n.locale}|${JSON.stringify(options)}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = make(i18n.locale);
    formatters.set(key, formatter);
  }
  return formatter as T;
}

function dateFormat(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return cached('date', options, (locale) => new Intl.DateTimeFormat(locale, options));
}

function relative(): Intl.RelativeTimeFormat {
  return cached('rel', {}, (locale) => new Intl.RelativeTimeFormat(locale, { numeric: 'auto' }));
}

function numberFormat(options: Intl.NumberFormatOptions): Intl.NumberFormat {
  return cached('num', options, (locale) => new Intl.NumberFormat(locale, options));
}

function unit(value: number, u: 'minute' | 'hour' | 'day', display: 'narrow' | 'short' | 'long') {
  return numberFormat({ style: 'unit', unit: u, unitDisplay: display }).format(value);
}

/** The list row's time: "ora", "3 min", "14:05", "ieri", "lun", "12 mar", "12/03/23". */
export function listTime(ms: number, now: number): string {
  const diff = now - ms;
  if (diff < MINUTE) return t('time.now');
  if (diff < HOUR) return unit(Math.floor(diff / MINUTE), 'minute', 'short');
  const days = daysBetween(ms, now);
  if (days <= 0) return timeOfDay(ms);
  if (days === 1) {
    return relative().format(-1, 'day');
  }
  if (days < 7) return dateFormat({ weekday: 'short' }).format(ms);
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return dateFormat(sameYear ? { day: 'numeric', month: 'short' } : { dateStyle: 'short' }).format(
    ms,
  );
}

/** "3 min fa", "2 ore fa", "ieri": for "updated …" lines. */
export function timeAgo(ms: number, now: number): string {
  const diff = Math.max(0, now - ms);
  if (diff < MINUTE) return t('time.justNow');
  const rtf = relative();
  if (diff < HOUR) return rtf.format(-Math.floor(diff / MINUTE), 'minute');
  if (diff < DAY) return rtf.format(-Math.floor(diff / HOUR), 'hour');
  return rtf.format(-daysBetween(ms, now), 'day');
}

/** How long someone has waited: compact for a badge ("2h") or long for screen readers. */
export function duration(ms: number, display: 'narrow' | 'long' = 'narrow'): string {
  if (ms < HOUR) return unit(Math.max(1, Math.floor(ms / MINUTE)), 'minute', display);
  if (ms < DAY) return unit(Math.floor(ms / HOUR), 'hour', display);
  return unit(Math.floor(ms / DAY), 'day', display);
}

export function timeOfDay(ms: number): string {
  return dateFormat({ hour: '2-digit', minute: '2-digit' }).format(ms);
}

/** The thread's date separator: "Oggi", "Ieri", "lunedì 3 marzo". */
export function dayLabel(ms: number, now: number): string {
  const days = daysBetween(ms, now);
  if (days === 0) return t('thread.today');
  if (days === 1) return t('thread.yesterday');
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return dateFormat({
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: sameYear ? undefined : 'numeric',
  }).format(ms);
}

export function fullDateTime(ms: number): string {
  return dateFormat({ dateStyle: 'full', timeStyle: 'short' }).format(ms);
}

/** "12 mar 2025": a day without its time (first seen, merged on). */
export function mediumDate(ms: number): string {
  return dateFormat({ dateStyle: 'medium' }).format(ms);
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** 512 B, 12,3 kB, 4,5 MB. */
export function fileSize(bytes: number): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i++;
  }
  if (i === 0) return `${formatNumber(bytes)} B`;
  return numberFormat({
    style: 'unit',
    unit: units[i],
    unitDisplay: 'short',
    maximumFractionDigits: value < 10 ? 1 : 0,
  }).format(value);
}

/** A response time in a report: "35 min", "4,5 h", "2,3 giorni" (one decimal past an hour). */
export function reportDuration(ms: number): string {
  const options = (u: 'minute' | 'hour' | 'day'): Intl.NumberFormatOptions => ({
    style: 'unit',
    unit: u,
    unitDisplay: 'short',
    maximumFractionDigits: u === 'minute' ? 0 : 1,
  });
  if (ms < HOUR) return numberFormat(options('minute')).format(Math.max(0, ms) / MINUTE);
  if (ms < 2 * DAY) return numberFormat(options('hour')).format(ms / HOUR);
  return numberFormat(options('day')).format(ms / DAY);
}

/** "3 nov": the first day of a report's week. */
export function dayMonth(ms: number): string {
  return dateFormat({ day: 'numeric', month: 'short' }).format(ms);
}

/** The weekday's name, 1 = Monday ... 7 = Sunday ("lun" or "lunedì"). */
export function weekdayName(weekday: number, display: 'short' | 'long' = 'short'): string {
  // 1 January 2024 was a Monday.
  return dateFormat({ weekday: display }).format(new Date(2024, 0, weekday));
}
