import { html } from '../html';
import { DASHBOARD, flash, page } from './layout';

export function loginPage(options: { next?: string; error?: string; notice?: string }): string {
  return page({
    title: 'Sign in',
    body: html`
<section class="login card">
  <h1>Sign in to the dashboard</h1>
  <p class="muted">Use a secret API key. Its environment decides which tokens you see and act on.</p>
  ${options.error ? flash('error', options.error) : ''}
  ${options.notice ? flash('info', options.notice) : ''}
  <form method="post" action="${DASHBOARD}/login" class="stack">
    <label for="apiKey">API key</label>
    <input id="apiKey" name="apiKey" type="password" autocomplete="current-password" required autofocus
      spellcheck="false" placeholder="tr_…">
    ${options.next ? html`<input type="hidden" name="next" value="${options.next}">` : ''}
    <button type="submit" class="primary">Sign in</button>
  </form>
  <p class="muted small">The key is checked once and never stored in your browser: the session cookie only
  names the environment, is signed by the gateway, and ends after 12 hours or when you sign out.</p>
</section>`,
  });
}
