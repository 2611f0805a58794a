// The UI font on Linux, resolved once and remembered.
//
// WebKitGTK resolves `--font-sans` (tokens.css) family by family through fontconfig, again for
// every size and weight the page uses, and each family of the stack that is not installed
// costs a fontconfig match: the first render of the inbox spent ~140 ms of CPU in fontconfig
// with the full stack, ~16 ms with the one family it ends up on (tests/bench-first-render.mjs).
// So on Linux the family the stack resolves to is found with one lookup per family (a canvas
// measure) before the first render, remembered, and used alone: the same font, without the
// misses. macOS and Windows find their font at the stack's first families and keep the stack.

const KEY = 'sportello.uiFont';
const isLinux = /Linux/.test(navigator.userAgent) && !/Android/.test(navigator.userAgent);

/** The families of a CSS font-family list, as written (quotes kept). */
function families(stack: string): string[] {
  return stack
    .split(',')
    .map((family) => family.trim())
    .filter(Boolean);
}

/** Sets `--font-sans` to one family (then the generic family). */
function use(family: string) {
  const value = family === 'sans-serif' ? family : `${family}, sans-serif`;
  document.documentElement.style.setProperty('--font-sans', value);
}

/**
 * The first family of `stack` the engine has, or null when none is (the generic `sans-serif`
 * then serves): a family is there when text set in it, falling back to monospace, measures
 * otherwise than in monospace alone. One font lookup per family, at one size.
 */
export function firstInstalled(stack: string): string | null {
  const context = document.createElement('canvas').getContext('2d');
  if (!context) return null;
  const sample = 'Sportello mmmmmmmmmm lli 0123456789';
  context.font = '40px monospace';
  const mono = context.measureText(sample).width;
  for (const family of families(stack)) {
    if (/^(sans-serif|serif|monospace)$/.test(family)) return null;
    context.font = `40px ${family}, monospace`;
    if (context.measureText(sample).width !== mono) return family;
  }
  return null;
}

/** Finds the family the stylesheet's stack resolves to now and remembers it. */
function remember(): string {
  const stack = getComputedStyle(document.documentElement).getPropertyValue('--font-sans-stack');
  const family = firstInstalled(stack) ?? 'sans-serif';
  localStorage.setItem(KEY, family);
  return family;
}

/**
 * Call after mounting, before the first render (the inbox renders once the first calls are
 * answered, so this runs while they are). The first start finds the family now; later starts
 * use the one remembered and check it again a few seconds later (fonts may have been
 * installed or removed since: the font then changes on the next start, never under the
 * user's eyes).
 */
export function setUpFont() {
  if (!isLinux) return;
  const family = localStorage.getItem(KEY);
  if (family) {
    use(family);
    setTimeout(remember, 3000);
  } else {
    use(remember());
  }
}
