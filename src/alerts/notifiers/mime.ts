/** The bits of MIME the notifiers need: RFC 2047 encoded-words (mail and ntfy headers), quoted-printable. */

/** Whether `text` can go into a header as it is: printable ASCII only. */
function plainAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/**
 * UTF-8 bytes per encoded-word: 36 make 48 base64 characters, 60 with the `=?UTF-8?B?…?=` (RFC 2047 allows
 * 75), so that even "X-Wmn-Event-Id: " and a word stay within the 78 characters a mail line should keep to.
 */
const WORD_BYTES = 36;

/**
 * A header value for people (Subject, a display name, ntfy's Title): as it is when printable ASCII, else
 * RFC 2047 `=?UTF-8?B?…?=` words, split on character boundaries and joined by `separator` (a folding
 * "\r\n " in mail, a space in HTTP). Line breaks become spaces first: a header is one line.
 */
export function encodeHeaderText(text: string, separator = '\r\n '): string {
  const flat = text.replace(/[\r\n]+/g, ' ');
  if (plainAscii(flat)) return flat;
  const words: string[] = [];
  let chunk = '';
  for (const char of flat) {
    if (Buffer.byteLength(chunk + char) > WORD_BYTES) {
      words.push(chunk);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word).toString('base64')}?=`).join(separator);
}

/** Longest encoded line before a soft break ("=" makes 76). */
const QP_LINE = 75;

/**
 * Quoted-printable (RFC 2045 §6.7) of UTF-8 text, lines joined with CRLF. Dots stay literal: SMTP's
 * dot-stuffing is the transport's job, not the encoding's.
 */
export function quotedPrintable(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      const tokens: string[] = [];
      bytes.forEach((byte, i) => {
        const last = i === bytes.length - 1;
        const literal = (byte >= 33 && byte <= 126 && byte !== 61) || ((byte === 32 || byte === 9) && !last);
        tokens.push(
          literal ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`,
        );
      });
      const out: string[] = [];
      let current = '';
      for (const token of tokens) {
        if (current.length + token.length > QP_LINE) {
          out.push(`${current}=`);
          current = '';
        }
        current += token;
      }
      out.push(current);
      return out.join('\r\n');
    })
    .join('\r\n');
}
