import { SafeHtml, html } from '../html';
import type { DashboardSession } from '../session';

export const DASHBOARD = '/dashboard';
export const ASSET_VERSION = '2';

export interface PageOptions {
  title: string;
  session?: DashboardSession;
  active?: 'overview' | 'tokens';
  /** Fragment URL the page re-reads on every change signal (see dashboard.js). */
  liveSrc?: string;
  liveIntervalMs?: number;
  body: SafeHtml;
}

export function page(options: PageOptions): string {
  const { session, active } = options;
  const nav = (key: PageOptions['active'], href: string, label: string) =>
    html`<a href="${href}" ${active === key ? html`aria-current="page"` : ''}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Waitpoints</title>
<link rel="stylesheet" href="${DASHBOARD}/assets/dashboard.css?v=${ASSET_VERSION}">
<script src="${DASHBOARD}/assets/dashboard.js?v=${ASSET_VERSION}" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="${DASHBOARD}"><span class="logo" aria-hidden="true"></span>Waitpoints</a>
  ${
    session
      ? html`<nav>${nav('overview', DASHBOARD, 'Overview')}${nav('tokens', `${DASHBOARD}/tokens`, 'Tokens')}</nav>
  <div class="who">
    ${options.liveSrc ? html`<span class="live" id="live-status" aria-live="polite">Live</span>` : ''}
    <span class="env" title="The API key you signed in with belongs to this environment">Environment <strong data-testid="environment">${session.environment}</strong></span>
    <form method="post" action="${DASHBOARD}/logout">
      <input type="hidden" name="csrf" value="${session.csrfToken}">
      <button type="submit" class="link">Sign out</button>
    </form>
  </div>`
      : ''
  }
</header>
<main ${options.liveSrc ? html`data-live-src="${options.liveSrc}" data-live-interval="${options.liveIntervalMs ?? 2000}"` : ''}>
${options.body}
</main>
<dialog id="confirm-dialog" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title">Are you sure?</h2>
    <p id="confirm-message"></p>
    <pre id="confirm-preview" class="json" hidden></pre>
    <div class="buttons">
      <button value="cancel" class="secondary">Go back</button>
      <button value="confirm" id="confirm-ok" class="primary">Confirm</button>
    </div>
  </form>
</dialog>
</body>
</html>`.value;
}

/** A notice above the content: what an action did, or why it did not. */
export function flash(kind: 'success' | 'error' | 'info', message: string): SafeHtml {
  return html`<div class="flash flash-${kind}" role="${kind === 'error' ? 'alert' : 'status'}" data-testid="flash">${message}</div>`;
}

/** Named parts of a fragment: the page swaps each into its element with the same data-part. */
export function fragment(parts: Record<string, SafeHtml>): string {
  return Object.entries(parts)
    .map(([name, content]) => html`<template data-part="${name}">${content}</template>`.value)
    .join('\n');
}
