// A tiny browser stand-in for HTTP-level page tests: keeps cookies, never follows redirects,
// and finds the CSRF token on a page the way a form would carry it.
import assert from 'node:assert/strict';

export interface PageResponse {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
}

export class PageClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method: string, path: string, body?: string, contentType = 'application/x-www-form-urlencoded'): Promise<PageResponse> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
    if (body !== undefined) headers['content-type'] = contentType;
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: 'manual' });
    this.remember(res);
    return { status: res.status, headers: res.headers, body: await res.text(), location: res.headers.get('location') };
  }

  get(path: string): Promise<PageResponse> {
    return this.request('GET', path);
  }

  post(path: string, fields: Record<string, string>): Promise<PageResponse> {
    return this.request('POST', path, new URLSearchParams(fields).toString());
  }

  /** GETs `pagePath`, then POSTs `fields` plus the page's CSRF token to `action`. */
  async submit(pagePath: string, action: string, fields: Record<string, string>): Promise<PageResponse> {
    const page = await this.get(pagePath);
    assert.equal(page.status, 200, `GET ${pagePath} → ${page.status}`);
    return this.post(action, { csrf_token: csrfTokenOf(page.body), ...fields });
  }
}

export function csrfTokenOf(html: string): string {
  const m = /name="csrf_token" value="([^"]+)"/.exec(html);
  assert.ok(m?.[1], 'the page carries a csrf_token');
  return m[1];
}

/** Signs a new user up through /signup; returns the signed-in client. */
export async function signUp(baseUrl: string, user: { email: string; name?: string; password?: string; locale?: string }): Promise<PageClient> {
  const client = new PageClient(baseUrl);
  const res = await client.submit('/signup', '/signup', {
    name: user.name ?? 'Test User',
    email: user.email,
    password: user.password ?? 'correct horse battery',
    password_confirm: user.password ?? 'correct horse battery',
    locale: user.locale ?? 'en',
  });
  assert.equal(res.status, 303, `sign-up of ${user.email} → ${res.status}: ${res.body.slice(0, 300)}`);
  return client;
}

/** The text of the element with this id (simple, for our own pages' <code id=…>). */
export function textById(html: string, id: string): string {
  const m = new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(html);
  assert.ok(m?.[1] !== undefined, `the page has #${id}`);
  return m[1];
}
