// The tag palette (src/lib/util/tags.ts) against the design tokens, light and dark: a chip's
// dot (lifted by --tag-lift in dark mode) keeps 3:1 against every surface a chip sits on, and
// the chip's name (--fg on the tag's 12 % tint) keeps 4.5:1.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const css = readFileSync(new URL('../src/styles/tokens.css', import.meta.url), 'utf8');
const palette = [
  ...readFileSync(new URL('../src/lib/util/tags.ts', import.meta.url), 'utf8').matchAll(
    /color: '(#[0-9a-f]{6})'/g,
  ),
].map((m) => m[1]);

function tokens(block) {
  const out = {};
  for (const [, name, value] of block.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6}|\d+%)\s*;/gi)) {
    out[name] = value;
  }
  return out;
}

const darkAt = css.indexOf('@media (prefers-color-scheme: dark)');
const light = tokens(css.slice(0, darkAt));
const dark = { ...light, ...tokens(css.slice(darkAt)) };

const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const hex = (c) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('')}`;
/** color-mix(in srgb, a, b p) */
const mix = (a, b, p) => hex(rgb(a).map((v, i) => v * (1 - p) + rgb(b)[i] * p));

function luminance(color) {
  const [r, g, b] = rgb(color).map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const SURFACES = ['bg', 'bg-sidebar', 'bg-muted', 'bg-raised', 'bg-hover', 'bg-selected'];

test('the palette has nine distinct colours', () => {
  assert.equal(palette.length, 9);
  assert.equal(new Set(palette).size, 9);
});

for (const [scheme, t] of [
  ['light', light],
  ['dark', dark],
]) {
  test(`${scheme}: tag dots keep 3:1 and chip names 4.5:1 on every surface`, () => {
    const lift = parseFloat(t['tag-lift']) / 100;
    assert.ok(Number.isFinite(lift), '--tag-lift is set');
    const failures = [];
    for (const color of palette) {
      const dot = mix(color, '#ffffff', lift);
      for (const surface of SURFACES) {
        const bg = t[surface];
        const ratio = contrast(dot, bg);
        if (ratio < 3) failures.push(`${color} dot on ${surface}: ${ratio.toFixed(2)}`);
        const tint = mix(bg, color, 0.12);
        const text = contrast(t.fg, tint);
        if (text < 4.5) failures.push(`fg on ${color} tint over ${surface}: ${text.toFixed(2)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
}
