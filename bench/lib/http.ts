// A small keep-alive HTTP client for the set-up steps (signing in, minting pools): no
// redirects followed unless asked, a cookie jar, and just enough HTML form reading to get
// through a login page and a consent page the way a browser would.
import http from 'node:http';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  url: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  jar?: CookieJar;
  timeoutMs?: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const headers: Record<string, string> = { ...options.headers };
  if (options.jar) {
    const cookie = options.jar.header();
    if (cookie) headers.cookie = cookie;
  }
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: options.method ?? 'GET', headers, agent,
      timeout: options.timeoutMs ?? 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        options.jar?.store(res.headers['set-cookie']);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), url });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${options.method ?? 'GET'} ${url}`)));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export function closeAgent(): void {
  agent.destroy();
}

/** Cookies by name; enough for one site on loopback (no paths, domains or expiry). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const first = line.split(';', 1)[0] ?? '';
      const eq = first.indexOf('=');
      if (eq <= 0) continue;
      const name = first.slice(0, eq).trim();
      const value = first.slice(eq + 1).trim();
      const expired = /max-age=0\b/i.test(line) || /expires=thu, 01 jan 1970/i.test(line);
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get size(): number {
    return this.cookies.size;
  }
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export function basicAuth(id: string, secret: string): string {
  // RFC 6749 §2.3.1: each part form-urlencoded before base64.
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

// ---- HTML forms ------------------------------------------------------------------------

export interface HtmlForm {
  action: string;
  method: string;
  /** Hidden and text inputs with their values, in order. */
  fields: Array<{ name: string; value: string; type: string }>;
  /** Submit buttons (name may be empty). */
  buttons: Array<{ name: string; value: string }>;
  selects: Array<{ name: string; value: string }>;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_m, e: string) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'quot') return '"';
    if (l === 'apos' || l === '#39') return "'";
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    return String.fromCodePoint(parseInt(l.slice(1), 10));
  });
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) {
    const name = (m[1] ?? '').toLowerCase();
    out[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

export function parseForms(html: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const open = /<form\b[^>]*>/i.exec(m[0])?.[0] ?? '<form>';
    const a = attrs(open);
    const body = m[1] ?? '';
    const f: HtmlForm = { action: a.action ?? '', method: (a.method ?? 'get').toLowerCase(), fields: [], buttons: [], selects: [] };
    for (const t of body.matchAll(/<input\b[^>]*>/gi)) {
      const ia = attrs(t[0]);
      const type = (ia.type ?? 'text').toLowerCase();
      if (!ia.name) continue;
      if (type === 'submit') f.buttons.push({ name: ia.name, value: ia.value ?? '' });
      else if ((type === 'checkbox' || type === 'radio') && !('checked' in ia)) continue;
      else f.fields.push({ name: ia.name, value: ia.value ?? '', type });
    }
    for (const t of body.matchAll(/<button\b[^>]*>/gi)) {
      const ba = attrs(t[0]);
      const type = (ba.type ?? 'submit').toLowerCase();
      if (type === 'submit') f.buttons.push({ name: ba.name ?? '', value: ba.value ?? '' });
    }
    for (const s of body.matchAll(/<select\b[^>]*>([\s\S]*?)<\/select>/gi)) {
      const sa = attrs(/<select\b[^>]*>/i.exec(s[0])?.[0] ?? '');
      if (!sa.name) continue;
      const options = [...(s[1] ?? '').matchAll(/<option\b[^>]*>/gi)].map((o) => attrs(o[0]));
      const chosen = options.find((o) => 'selected' in o) ?? options[0];
      if (chosen) f.selects.push({ name: sa.name, value: chosen.value ?? '' });
    }
    for (const t of body.matchAll(/<textarea\b[^>]*>([\s\S]*?)<\/textarea>/gi)) {
      const ta = attrs(/<textarea\b[^>]*>/i.exec(t[0])?.[0] ?? '');
      if (ta.name) f.fields.push({ name: ta.name, value: decodeEntities(t[1] ?? ''), type: 'textarea' });
    }
    forms.push(f);
  }
  return forms;
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Fills the one form on a page the way a person would: a sign-in form gets the credentials,
 * a consent form gets its "allow" button. Returns the URL-encoded body and the absolute action.
 */
export function fillForm(page: HttpResponse, credentials: Credentials): { action: string; method: string; body: string } | undefined {
  const forms = parseForms(page.body).filter((f) => f.method === 'post');
  const signIn = forms.find((f) => f.fields.some((x) => x.type === 'password'));
  const consent = forms.find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === 'allow'));
  const chosen = signIn ?? consent ?? forms[0];
  if (!chosen) return undefined;
  const out = new URLSearchParams();
  for (const field of chosen.fields) {
    let value = field.value;
    if (field.type === 'password') value = credentials.password;
    else if (/^(email|login|username|user)$/i.test(field.name)) value = credentials.username;
    out.append(field.name, value);
  }
  for (const s of chosen.selects) out.append(s.name, s.value);
  const allow = chosen.buttons.find((b) => b.name === 'decision' && b.value === 'allow') ?? chosen.buttons.find((b) => b.name !== '');
  if (allow && allow.name !== '') out.append(allow.name, allow.value);
  return { action: new URL(chosen.action || page.url, page.url).toString(), method: chosen.method, body: out.toString() };
}
