// Builds the document shown in the sandboxed iframe of an HTML email. The iframe has
// sandbox="allow-same-origin" and nothing else: no scripts, no popups, no forms, no top
// navigation — same origin only lets the window read the document (to measure it and to catch
// link clicks). This CSP is the second lock: nothing is fetched from the network unless the
// user allowed remote content.

const BLOCKED =
  "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:; media-src data:";
const ALLOWED =
  "default-src 'none'; img-src data: cid: https: http:; style-src 'unsafe-inline' https: http:; font-src data: https: http:; media-src data:";

const BASE_STYLE = `
  html { color-scheme: light; }
  body { margin: 0; padding: 12px 14px; font: 14px/1.5 system-ui, -apple-system, "Segoe UI",
    Roboto, "Noto Sans", Ubuntu, Cantarell, "Helvetica Neue", Arial, sans-serif;
    color: #1b1f24; background: #ffffff; overflow-wrap: anywhere; }
  img { max-width: 100%; height: auto; }
  table { max-width: 100%; }
  blockquote { margin: 0 0 0 8px; padding-left: 10px; border-left: 3px solid #c9ced6; color: #4a525c; }
  pre { white-space: pre-wrap; }
`;

// The quote and signature markers the sanitiser keeps (sportello_core::quotes::html_folds):
// Gmail's, Apple Mail's and Thunderbird's quotes and signatures, Outlook's reply header with
// its rule and everything after it.
const FOLD_STYLE = `
  .gmail_quote, blockquote[type="cite"], .moz-cite-prefix, .gmail_signature, .moz-signature,
  #divRplyFwdMsg, #divRplyFwdMsg ~ *, hr:has(+ #divRplyFwdMsg) { display: none !important; }
`;

export function cspFor(allowRemote: boolean): string {
  return allowRemote ? ALLOWED : BLOCKED;
}

/**
 * The srcdoc for one message's HTML. `html` was sanitised by the backend already; `folded`
 * hides the quoted messages and the signature.
 */
export function emailSrcdoc(html: string, allowRemote: boolean, folded = false): string {
  return (
    '<!doctype html><html><head>' +
    `<meta http-equiv="Content-Security-Policy" content="${cspFor(allowRemote)}">` +
    '<meta charset="utf-8"><meta name="referrer" content="no-referrer">' +
    '<base target="_blank">' +
    `<style>${BASE_STYLE}${folded ? FOLD_STYLE : ''}</style>` +
    `</head><body>${html}</body></html>`
  );
}

/** What a link in an email is: a web page (may open), a mail address, or anything else. */
export function linkKind(href: string): 'web' | 'mail' | 'other' {
  const lower = href.trim().toLowerCase();
  if (lower.startsWith('https://') || lower.startsWith('http://')) return 'web';
  if (lower.startsWith('mailto:')) return 'mail';
  return 'other';
}

/** The first height, from the plain text, until the document is measured once loaded. */
export function guessHeight(text: string): number {
  let lines = 0;
  for (const line of text.split('\n')) lines += Math.max(1, Math.ceil(line.length / 80));
  return Math.min(640, Math.max(140, lines * 21 + 40));
}
