// The UI font on Linux, resolved once and remembered.
//
// WebKitGTK resolves `--font-sans` (tokens.css) family by family through fontconfig, again for
// every size and weight the page uses, and each family of the stack that is not installed
// costs a fontconfig match: the first render of the inbox spent ~140 ms of CPU in fontconfig
// with the full stack, ~16 ms with the one family it ends up on (tests/bench-first-render.mjs).
// So on Linux the family the stack resolves to is found once, after the first paint, and the
// next start uses it alone: the same font, without the misses. macOS and Windows find their
// font at the stack's first families and keep the stack.

const KEY = 'sportello.uiFont';
const isLinux = /Linux/.test(navigator.userAgent) && !/Android/.test(navigator.userAgent);

/** The families of a CSS font-family list, as written (quotes kept). */
function families(stack: string): string[] {
  return stack
    .split(',')
    .map((family) => family.trim())
    .filter(Boolean);
}

/** Uses the family found on an earlier start, before the first render. */
export function applyRememberedFont() {
  if (!isLinux) return;
  const family = localStorage.getItem(KEY);
  if (family) {
    const value = family === 'sans-serif' ? family : `${family}, sans-serif`;
    document.documentElement.style.setProperty('--font-sans', value);
  }
}

/**
 * The first family of `stack` the engine has, or null when none is (the generic `sans-serif`
 * then serves): a family is there when text set in it, falling back to monospace, measures
 * otherwise than in monospace alone.
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

/**
 * Finds the family the stack resolves to now and remembers it for the next start (fonts may
 * have been installed or removed since: the one in use changes on the next start, never
 * under the user's eyes). Call after the first paint.
 */
export function rememberFont() {
  if (!isLinux) return;
  // The stylesheet's whole stack, not the family set for this start.
  const stack = getComputedStyle(document.documentElement).getPropertyValue('--font-sans-stack');
  localStorage.setItem(KEY, firstInstalled(stack) ?? 'sans-serif');
}
