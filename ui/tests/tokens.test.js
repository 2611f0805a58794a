// WCAG AA for the design tokens, in light and dark: text pairs need 4.5:1, icons and
// control borders 3:1. Reads src/styles/tokens.css itself, so a changed colour is checked.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const css = readFileSync(new URL('../src/styles/tokens.css', import.meta.url), 'utf8');

function tokens(block) {
  const out = {};
  for (const [, name, value] of block.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)) {
    out[name] = value;
  }
  return out;
}

const darkAt = css.indexOf('@media (prefers-color-scheme: dark)');
const light = tokens(css.slice(0, darkAt));
const dark = { ...light, ...tokens(css.slice(darkAt)) };

function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT = [
  ['fg', 'bg'],
  ['fg', 'bg-sidebar'],
  ['fg', 'bg-selected'],
  ['fg', 'bubble-in'],
  ['fg', 'bubble-out'],
  ['fg', 'bubble-note'],
  ['note-text', 'bubble-note'],
  ['fg-muted', 'bubble-note'],
  ['fg-muted', 'bg'],
  ['fg-muted', 'bg-sidebar'],
  ['fg-muted', 'bg-hover'],
  ['fg-muted', 'bg-selected'],
  ['fg-muted', 'bubble-in'],
  ['fg-subtle', 'bg'],
  ['fg-subtle', 'bg-selected'],
  ['accent-fg', 'accent'],
  ['accent-text', 'bg'],
  ['accent-text', 'bg-selected'],
  ['danger', 'bg'],
  ['danger', 'bg-sidebar'],
  ['fg', 'danger-soft'],
  ['warning', 'bg-sidebar'],
  ['warning', 'warning-soft'],
  ['fg', 'warning-soft'],
  ['success', 'bg'],
  ['mark-fg', 'mark-bg'],
];
const NON_TEXT = [
  ['border-control', 'bg'],
  ['note-border', 'bubble-note'],
  ['focus-ring', 'bg'],
  ['focus-ring', 'bg-sidebar'],
];
const CHANNELS = ['email', 'whatsapp', 'messenger', 'instagram', 'telegram'];

for (const [scheme, t] of [
  ['light', light],
  ['dark', dark],
]) {
  test(`${scheme}: text and controls meet WCAG AA`, () => {
    const failures = [];
    for (const [fg, bg] of TEXT) {
      const ratio = contrast(t[fg], t[bg]);
      if (ratio < 4.5) failures.push(`${fg} on ${bg}: ${ratio.toFixed(2)}`);
    }
    for (const [fg, bg] of NON_TEXT) {
      const ratio = contrast(t[fg], t[bg]);
      if (ratio < 3) failures.push(`${fg} on ${bg}: ${ratio.toFixed(2)}`);
    }
    for (const channel of CHANNELS) {
      const ratio = contrast('#ffffff', t[`channel-${channel}`]);
      if (ratio < 4.5) failures.push(`white on channel-${channel}: ${ratio.toFixed(2)}`);
    }
    assert.deepEqual(failures, []);
  });
}
