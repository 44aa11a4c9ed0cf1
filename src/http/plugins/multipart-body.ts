// multipart/form-data bodies (RFC 7578; Hover's guide recommends them for the token
// endpoint), parsed strictly from the buffered body so that they fail the way the other
// formats do: a missing boundary, a body that ends before its closing delimiter, a file part
// or bytes that are not UTF-8 are invalid_request, and a body over the limit is 413 like any
// other (the buffering is Fastify's, under BODY_LIMIT). A streaming parser would accept a
// truncated body with whatever fields had arrived, or silently cut an oversized value.
import { OAuthError } from '../../oauth/errors.js';

/** More parts than any token request needs; toParams refuses more than 50 names anyway. */
const MAX_PARTS = 100;
const MAX_PART_HEADER_BYTES = 2048;

const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

function invalid(description: string): OAuthError {
  return new OAuthError('invalid_request', description);
}

/** The boundary parameter of a multipart/form-data Content-Type (RFC 2046 §5.1.1). */
export function multipartBoundary(contentType: string | undefined): string {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType ?? '');
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw invalid('multipart/form-data needs a boundary parameter');
  return boundary;
}

function decode(bytes: Buffer, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalid(`the ${what} is not valid UTF-8`);
  }
}

/** The value of a Content-Disposition parameter, quoted or not. */
function dispositionParam(header: string, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s;"]+))`, 'i').exec(header);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/**
 * Parses a multipart/form-data body of text fields into name → value (an array where a name
 * repeats, for toParams to refuse). Throws OAuthError invalid_request when the body is not
 * well-formed, carries a file, or is not UTF-8.
 */
export function parseMultipartBody(body: Buffer, contentType: string | undefined): Record<string, string | string[]> {
  const boundary = multipartBoundary(contentType);
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const out = Object.create(null) as Record<string, string | string[]>;

  // The first delimiter opens the body, or follows a preamble and CRLF (RFC 2046 §5.1.1).
  let pos: number;
  if (body.subarray(0, delimiter.length).equals(delimiter)) pos = delimiter.length;
  else {
    const at = body.indexOf(nextDelimiter);
    if (at === -1) throw invalid('the multipart body has no part delimited by its boundary');
    pos = at + nextDelimiter.length;
  }

  for (let parts = 0; ; parts++) {
    // After a delimiter: "--" closes the body; otherwise optional white space, CRLF, a part.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return out;
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw invalid('the multipart body ends before its closing boundary');
    pos += 2;
    if (parts >= MAX_PARTS) throw invalid('the multipart body has too many parts');

    const headerEnd = body.indexOf(CRLFCRLF, pos);
    if (headerEnd === -1 || headerEnd - pos > MAX_PART_HEADER_BYTES) throw invalid('a multipart part has malformed headers');
    const headerLines = body.subarray(pos, headerEnd).toString('latin1').split('\r\n');
    const valueStart = headerEnd + CRLFCRLF.length;
    const valueEnd = body.indexOf(nextDelimiter, valueStart);
    if (valueEnd === -1) throw invalid('the multipart body ends before its closing boundary');

    let disposition: string | undefined;
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw invalid('a multipart part has malformed headers');
      if (line.slice(0, colon).trim().toLowerCase() === 'content-disposition') disposition = line.slice(colon + 1).trim();
    }
    if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) throw invalid('every multipart part needs Content-Disposition: form-data');
    if (dispositionParam(disposition, 'filename') !== undefined || dispositionParam(disposition, 'filename\\*') !== undefined) {
      throw invalid('file parts are not accepted here: send each parameter as a text field');
    }
    const rawName = dispositionParam(disposition, 'name');
    if (rawName === undefined || rawName === '') throw invalid('a multipart part has no name');
    // Header bytes were read as latin1; names are UTF-8 on the wire (RFC 7578 §5.1.1).
    const name = decode(Buffer.from(rawName, 'latin1'), 'multipart field name');
    const value = decode(body.subarray(valueStart, valueEnd), `value of ${name.slice(0, 50)}`);

    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[name] = [existing, value];
    pos = valueEnd + nextDelimiter.length;
  }
}
