// The fixed palette new tags choose from. Each dot keeps at least 3:1 against every surface a
// chip sits on (in dark mode lifted toward white by --tag-lift), and a chip always shows the
// tag's name too: colour is never the only thing that tells tags apart (tests/tags.test.js).

export const TAG_PALETTE = [
  { color: '#c62828', name: 'red' },
  { color: '#b45309', name: 'orange' },
  { color: '#8a6d00', name: 'yellow' },
  { color: '#1a7f37', name: 'green' },
  { color: '#0f7b8a', name: 'teal' },
  { color: '#1f5fc4', name: 'blue' },
  { color: '#7e3fd1', name: 'purple' },
  { color: '#b4237a', name: 'pink' },
  { color: '#5b6673', name: 'grey' },
] as const;

export type PaletteName = (typeof TAG_PALETTE)[number]['name'];

/** A palette colour for a new tag: the least used one, so neighbours differ. */
export function nextColor(used: readonly string[]): string {
  let best: string = TAG_PALETTE[0].color;
  let fewest = Infinity;
  for (const { color } of TAG_PALETTE) {
    const n = used.filter((c) => c.toLowerCase() === color).length;
    if (n < fewest) {
      fewest = n;
      best = color;
    }
  }
  return best;
}
