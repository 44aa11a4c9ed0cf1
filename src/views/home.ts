// The landing page for visitors who are not signed in.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export function homePage(o: { signup: boolean; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('home.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('home.heading')}</h1>
<p>${t('home.intro')}</p>
<div class="actions"><a class="button" href="/login">${t('home.signIn')}</a>${o.signup ? html`<a class="button secondary" href="/signup">${t('home.signup')}</a>` : html``}</div>
</section>`,
  });
}
