// Reading our own pages' HTML the way a browser submits it: forms, hidden fields, radio buttons.
import assert from 'node:assert/strict';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' };

export function unescapeHtml(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_m, name: string) => ENTITIES[name] ?? '');
}

function attribute(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m?.[1] === undefined ? undefined : unescapeHtml(m[1]);
}

/** The markup of the first form whose action is `action`, or undefined. */
export function formMarkup(html: string, action: string): string | undefined {
  for (const m of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)) {
    const open = /<form\b[^>]*>/.exec(m[0])?.[0] ?? '';
    if (attribute(open, 'action') === action) return m[0];
  }
  return undefined;
}

/** The hidden fields of the form posting to `action`, as a browser would submit them. */
export function hiddenFields(html: string, action: string): Record<string, string> {
  const form = formMarkup(html, action);
  assert.ok(form !== undefined, `the page has a form posting to ${action}`);
  const out: Record<string, string> = {};
  for (const m of form.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    if (attribute(tag, 'type') !== 'hidden') continue;
    const name = attribute(tag, 'name');
    if (name !== undefined) out[name] = attribute(tag, 'value') ?? '';
  }
  return out;
}

/** The radio buttons named `name`: their values, and whether each is disabled or checked. */
export function radioOptions(html: string, name: string): Array<{ value: string; disabled: boolean; checked: boolean }> {
  const out: Array<{ value: string; disabled: boolean; checked: boolean }> = [];
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0];
    if (attribute(tag, 'type') !== 'radio' || attribute(tag, 'name') !== name) continue;
    out.push({ value: attribute(tag, 'value') ?? '', disabled: /\sdisabled[\s>]/.test(tag), checked: /\schecked[\s>]/.test(tag) });
  }
  return out;
}
