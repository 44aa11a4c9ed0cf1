// A browser stand-in for the authorization flow: keeps cookies, never follows redirects on its own.
/** The cookies one browser holds for the server. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  header(): string | undefined {
    return this.cookies.size === 0 ? undefined : [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=(0|-\d+)\s*$/i.test(a) || /^\s*expires=.*1970/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: string;
  /** The Location header as sent (null when none). */
  location: string | null;
}

export interface HttpOptions {
  jar?: CookieJar;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string> | URLSearchParams;
  headers?: Record<string, string>;
}

/** One request, redirects not followed; cookies read from and stored into `jar`. */
export async function httpRequest(server: { url: string }, method: string, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { accept: 'text/html', ...options.headers };
  const cookie = options.jar?.header();
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (options.form) {
    body = (options.form instanceof URLSearchParams ? options.form : new URLSearchParams(options.form)).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const response = await fetch(new URL(path, server.url), { method, headers, body, redirect: 'manual' });
  options.jar?.store(response);
  return { status: response.status, headers: response.headers, body: await response.text(), location: response.headers.get('location') };
}
