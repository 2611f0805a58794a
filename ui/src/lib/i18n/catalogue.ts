import type { it } from './it';

/** Every message key; Italian is the reference catalogue. */
export type MessageKey = keyof typeof it;

/** A catalogue must have exactly the keys of the Italian one. */
export type Catalogue = { readonly [K in MessageKey]: string };

/** Keys with plural forms, without their `.one` / `.many` / `.other` suffix. */
export type PluralKey = MessageKey extends infer K
  ? K extends `${infer Base}.other`
    ? Base
    : never
  : never;

export type Lang = 'it' | 'en';
