// The landing page for visitors who are not signed in.
import { html, type Html } from './html.js';
import { layout } from './layout.js';

export function homePage(o: { signup: boolean }): Html {
  return layout({
    title: 'Welcome',
    body: html`<section class="card narrow">
<h1>Welcome to Latchkey</h1>
<p>Sign in to see your account, the apps you have connected to it, and your organizations. Developers register API clients here too.</p>
<div class="actions"><a class="button" href="/login">Sign in</a>${o.signup ? html`<a class="button secondary" href="/signup">Create an account</a>` : html``}</div>
</section>`,
  });
}
