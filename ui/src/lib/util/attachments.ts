// The email size limit, measured as the Rust side does (sportello_core::outbox): files weigh
// about a third more once base64-encoded, and an email may be at most 25 MB as sent.

export const EMAIL_MAX_BYTES = 25 * 1024 * 1024;

/** What `len` bytes of a file weigh in an email: base64 in lines of 76 characters + CRLF. */
export function emailEncodedSize(len: number): number {
  return Math.ceil(len / 57) * 78;
}

/** Whether files of these sizes make an email too big to send (headers and text included). */
export function emailTooBig(sizes: number[]): boolean {
  const total = sizes.reduce((sum, size) => sum + emailEncodedSize(size), 0);
  return total + 64 * 1024 > EMAIL_MAX_BYTES;
}
