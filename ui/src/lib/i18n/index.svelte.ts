// The current language and the functions that turn keys into text. Reading `t()` inside a
// template subscribes it to `i18n.lang`, so a language switch re-renders every string.

import { en } from './en';
import { it } from './it';
import type { Catalogue, Lang, MessageKey, PluralKey } from './catalogue';

export type { Lang, MessageKey, PluralKey } from './catalogue';

const catalogues: Record<Lang, Catalogue> = { it, en };

export type LocaleSetting = 'auto' | 'it' | 'en';

class I18n {
  /** The catalogue in use. */
  lang = $state<Lang>('it');
  /** The BCP 47 tag given to Intl (keeps the OS region, e.g. en-GB dates, when it fits). */
  locale = $state('it-IT');
}

export const i18n = new I18n();

let osLocale = '';

function fromTag(tag: string): Lang | null {
  const base = tag.toLowerCase().split(/[-_]/)[0];
  return base === 'it' ? 'it' : base === 'en' ? 'en' : null;
}

/** The language for a setting: the setting if explicit, else the OS, else English. */
export function resolveLang(setting: LocaleSetting, systemTag: string): Lang {
  if (setting !== 'auto') return setting;
  return fromTag(systemTag) ?? 'en';
}

/** Remembers the OS locale (from the app, else the webview) for the "auto" setting. */
export function setSystemLocale(tag: string | null | undefined) {
  osLocale = (tag || navigator.language || 'it-IT').replace('_', '-').split('.')[0];
}

export function applyLocaleSetting(setting: LocaleSetting) {
  if (!osLocale) setSystemLocale(null);
  const lang = resolveLang(setting, osLocale);
  i18n.lang = lang;
  i18n.locale = fromTag(osLocale) === lang && isValidTag(osLocale) ? osLocale : lang;
  document.documentElement.lang = lang;
}

function isValidTag(tag: string): boolean {
  try {
    return Intl.getCanonicalLocales(tag).length === 1;
  } catch {
    return false;
  }
}

type Params = Record<string, string | number>;

function fill(text: string, params?: Params): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The text for `key` in the current language, with `{placeholders}` filled in. */
export function t(key: MessageKey, params?: Params): string {
  return fill(catalogues[i18n.lang][key], params);
}

// A cache, not state: nothing renders from it.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const pluralRules = new Map<string, Intl.PluralRules>();

/** The plural form of `key` for `count`; `{count}` is the count formatted for the locale. */
export function tn(key: PluralKey, count: number, params?: Params): string {
  const locale = i18n.locale;
  let rules = pluralRules.get(locale);
  if (!rules) {
    rules = new Intl.PluralRules(locale);
    pluralRules.set(locale, rules);
  }
  const catalogue = catalogues[i18n.lang] as Record<string, string>;
  const form = rules.select(count);
  const text = catalogue[`${key}.${form}`] ?? catalogue[`${key}.other`];
  return fill(text, { count: formatNumber(count), ...params });
}

// A cache, not state, like the plural rules: building a formatter costs far more than using
// one (in WebKit's JavaScriptCore most of all), and every count in a row goes through here.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const numberFormats = new Map<string, Intl.NumberFormat>();

export function formatNumber(n: number): string {
  const locale = i18n.locale;
  let format = numberFormats.get(locale);
  if (!format) {
    format = new Intl.NumberFormat(locale);
    numberFormats.set(locale, format);
  }
  return format.format(n);
}
