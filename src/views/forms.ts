// Building blocks for the portal's forms: a labelled field with its hint and its error right
// next to it (linked with aria-describedby so a screen reader reads them with the field), the
// hidden CSRF input every form carries, and a few small formatters.
import { html, type Html, type HtmlValue } from '../html.js';

/** Errors of one form, by field name; `form` is an error about the whole form. */
export type FormErrors = Partial<Record<string, string>>;

export interface FieldOptions {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'url';
  value?: string;
  error?: string | undefined;
  hint?: HtmlValue;
  autocomplete?: string;
  required?: boolean;
  /** Id of a <datalist> with suggestions. */
  list?: string;
  maxlength?: number;
  /** Prefix for the element ids, for pages with several forms that share field names. */
  idPrefix?: string;
}

function ids(prefix: string | undefined, name: string) {
  const id = `${prefix ?? 'f'}-${name}`;
  return { id, hint: `${id}-hint`, error: `${id}-error` };
}

function describedBy(hasHint: boolean, hasError: boolean, i: { hint: string; error: string }): string | null {
  const parts = [hasHint ? i.hint : '', hasError ? i.error : ''].filter(Boolean);
  return parts.length > 0 ? parts.join(' ') : null;
}

function attr(name: string, value: string | number | null | undefined): Html {
  return value === null || value === undefined ? html`` : html` ${name}="${value}"`;
}

function flag(name: string, on: boolean | undefined): Html {
  return on ? html` ${name}` : html``;
}

export function fieldError(id: string, error: string | undefined): Html {
  return error ? html`<p class="field-error" id="${id}">${error}</p>` : html``;
}

/** A labelled single-line input. Password inputs never echo their value back. */
export function field(o: FieldOptions): Html {
  const i = ids(o.idPrefix, o.name);
  const type = o.type ?? 'text';
  const value = type === 'password' ? undefined : o.value;
  return html`<div class="field">
<label for="${i.id}">${o.label}</label>
<input id="${i.id}" name="${o.name}" type="${type}"${attr('value', value)}${attr('autocomplete', o.autocomplete)}${attr('list', o.list)}${attr('maxlength', o.maxlength)}${flag('required', o.required)}${attr('aria-describedby', describedBy(o.hint != null, !!o.error, i))}${o.error ? html` aria-invalid="true"` : html``}>
${fieldError(i.error, o.error)}
${o.hint != null ? html`<p class="hint" id="${i.hint}">${o.hint}</p>` : html``}
</div>`;
}

export function textarea(o: Omit<FieldOptions, 'type' | 'autocomplete' | 'list'> & { rows?: number }): Html {
  const i = ids(o.idPrefix, o.name);
  return html`<div class="field">
<label for="${i.id}">${o.label}</label>
<textarea id="${i.id}" name="${o.name}" rows="${o.rows ?? 4}" spellcheck="false" autocapitalize="off"${flag('required', o.required)}${attr('aria-describedby', describedBy(o.hint != null, !!o.error, i))}${o.error ? html` aria-invalid="true"` : html``}>${o.value ?? ''}</textarea>
${fieldError(i.error, o.error)}
${o.hint != null ? html`<p class="hint" id="${i.hint}">${o.hint}</p>` : html``}
</div>`;
}

/** A labelled drop-down: `options` are [value, text] pairs; the one equal to `value` is selected. */
export function select(o: Omit<FieldOptions, 'type' | 'autocomplete' | 'list' | 'maxlength' | 'required'> & { options: ReadonlyArray<readonly [string, string]> }): Html {
  const i = ids(o.idPrefix, o.name);
  return html`<div class="field">
<label for="${i.id}">${o.label}</label>
<select id="${i.id}" name="${o.name}"${attr('aria-describedby', describedBy(o.hint != null, !!o.error, i))}${o.error ? html` aria-invalid="true"` : html``}>
${o.options.map(([value, text]) => html`<option value="${value}"${flag('selected', value === o.value)}>${text}</option>`)}
</select>
${fieldError(i.error, o.error)}
${o.hint != null ? html`<p class="hint" id="${i.hint}">${o.hint}</p>` : html``}
</div>`;
}

export function checkbox(o: { name: string; label: HtmlValue; checked?: boolean; required?: boolean; hint?: HtmlValue; error?: string | undefined; idPrefix?: string }): Html {
  const i = ids(o.idPrefix, o.name);
  return html`<div class="field">
<div class="check"><input id="${i.id}" name="${o.name}" type="checkbox" value="yes"${flag('checked', o.checked)}${flag('required', o.required)}${attr('aria-describedby', describedBy(o.hint != null, !!o.error, i))}${o.error ? html` aria-invalid="true"` : html``}>
<label for="${i.id}">${o.label}</label></div>
${fieldError(i.error, o.error)}
${o.hint != null ? html`<p class="hint" id="${i.hint}">${o.hint}</p>` : html``}
</div>`;
}

export function csrfInput(token: string): Html {
  return html`<input type="hidden" name="csrf_token" value="${token}">`;
}

/** An error about the whole form, announced to screen readers. */
export function formAlert(error: string | undefined): Html {
  return error ? html`<div class="alert alert-error" role="alert">${error}</div>` : html``;
}

/** A confirmation after a redirect ("Saved."). */
export function notice(message: string | undefined): Html {
  return message ? html`<div class="alert alert-ok" role="status">${message}</div>` : html``;
}

/** An epoch-seconds time as a <time> element, "2025-03-01 14:05 UTC". */
export function timeOf(epochSeconds: number): Html {
  const d = new Date(epochSeconds * 1000);
  const iso = Number.isNaN(d.getTime()) ? '' : d.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/** Suggestions for the locale field (any BCP 47 tag is accepted). */
export const LOCALE_SUGGESTIONS: ReadonlyArray<readonly [string, string]> = [
  ['en', 'English'], ['en-GB', 'English (United Kingdom)'], ['nl', 'Nederlands'], ['de', 'Deutsch'], ['fr', 'Français'],
  ['es', 'Español'], ['it', 'Italiano'], ['pt', 'Português'], ['pl', 'Polski'], ['sv', 'Svenska'], ['da', 'Dansk'],
  ['nb', 'Norsk bokmål'], ['fi', 'Suomi'], ['cs', 'Čeština'], ['tr', 'Türkçe'], ['ja', '日本語'], ['zh', '中文'],
];

export function localeDatalist(id: string): Html {
  return html`<datalist id="${id}">${LOCALE_SUGGESTIONS.map(([tag, name]) => html`<option value="${tag}">${name}</option>`)}</datalist>`;
}
