/**
 * The dashboard's stylesheet and script, served from /dashboard/assets/. Kept as strings in a
 * TypeScript module so the compiled gateway carries them (the build copies no other files).
 * The script is plain ES2017 without a build step; it must not use backticks or "${".
 */
export const DASHBOARD_CSS = String.raw`
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #667085; --line: #e3e6ec;
  --accent: #4f46e5; --accent-dark: #4338ca;
  --waiting: #b45309; --waiting-bg: #fef3c7; --completed: #047857; --completed-bg: #d1fae5;
  --timed_out: #b42318; --timed_out-bg: #fee4e2; --cancelled: #475467; --cancelled-bg: #eaecf0;
  --radius: 10px; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--text); background: var(--bg); }
body { margin: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .75rem; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
label .muted { font-weight: 400; }
.mono { font-family: var(--mono); font-size: .92em; }
.top { display: flex; align-items: center; gap: 2rem; padding: .75rem 1.5rem; background: #111827; color: #e5e7eb; }
.top a { color: #e5e7eb; }
.brand { font-weight: 700; font-size: 1.05rem; display: flex; align-items: center; gap: .5rem; }
.logo { width: 14px; height: 14px; border-radius: 50%; border: 3px solid #a5b4fc; display: inline-block; }
.top nav { display: flex; gap: 1.25rem; }
.top nav a { padding: .25rem 0; border-bottom: 2px solid transparent; }
.top nav a[aria-current="page"] { border-color: #a5b4fc; color: #fff; }
.top nav a:hover { text-decoration: none; color: #fff; }
.who { margin-left: auto; display: flex; align-items: center; gap: 1rem; }
.who form { margin: 0; }
.env strong { background: #312e81; padding: .1rem .5rem; border-radius: 999px; color: #e0e7ff; }
.live { font-size: .8rem; color: #9ca3af; }
.live::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: #22c55e; margin-right: .35rem; vertical-align: 1px; }
.live.paused::before { background: #9ca3af; }
.live.offline::before { background: #ef4444; }
main { max-width: 1320px; margin: 0 auto; padding: 1.5rem; }
.page-head { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; margin-bottom: 1rem; }
.page-head p { margin: 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem 1.25rem; margin-bottom: 1rem; }
.card.narrow, .login { max-width: 560px; margin: 2rem auto; }
.cards { display: grid; gap: 1rem; margin-bottom: 1rem; }
.cards .card { margin: 0; }
.cards-4 { grid-template-columns: repeat(4, 1fr); }
.cards-2 { grid-template-columns: repeat(2, 1fr); }
.stat { display: flex; flex-direction: column; gap: .25rem; color: inherit; border-top: 4px solid var(--line); }
.stat:hover { text-decoration: none; border-color: var(--accent); }
.stat-waiting { border-top-color: var(--waiting); } .stat-completed { border-top-color: var(--completed); }
.stat-timed_out { border-top-color: var(--timed_out); } .stat-cancelled { border-top-color: var(--cancelled); }
.stat-label { color: var(--muted); }
.stat-value { font-size: 1.9rem; font-weight: 650; margin: 0; font-variant-numeric: tabular-nums; }
.flow { display: grid; grid-template-columns: repeat(4, 1fr); margin: 0; }
.flow dt { color: var(--muted); } .flow dd { margin: 0; font-size: 1.5rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .8rem; font-weight: 600; white-space: nowrap; }
.badge-waiting { color: var(--waiting); background: var(--waiting-bg); }
.badge-completed { color: var(--completed); background: var(--completed-bg); }
.badge-timed_out { color: var(--timed_out); background: var(--timed_out-bg); }
.badge-cancelled { color: var(--cancelled); background: var(--cancelled-bg); }
.badge-rejected { color: var(--timed_out); background: var(--timed_out-bg); }
.badge-error { color: var(--timed_out); background: var(--timed_out-bg); margin-left: .4rem; }
.tag { display: inline-block; background: #eef2ff; color: #3730a3; border-radius: 4px; padding: 0 .4rem; margin: 0 .25rem .1rem 0; font-size: .82rem; }
.chip { display: inline-block; border: 1px solid var(--line); border-radius: 999px; padding: 0 .5rem; margin-left: .4rem; }
.chip-warn { border-color: #fcd34d; background: #fffbeb; }
label { display: flex; flex-direction: column; gap: .25rem; font-weight: 550; font-size: .88rem; }
input[type=text], input[type=password], input[type=datetime-local], select, textarea {
  font: inherit; font-weight: 400; padding: .45rem .6rem; border: 1px solid #cfd4dc; border-radius: 7px; background: #fff; color: inherit; min-width: 0;
}
textarea { font-family: var(--mono); font-size: .9rem; resize: vertical; }
input:focus, select:focus, textarea:focus, button:focus-visible, a:focus-visible { outline: 2px solid #a5b4fc; outline-offset: 1px; }
textarea[aria-invalid=true] { border-color: var(--timed_out); }
button, .button { font: inherit; font-weight: 600; padding: .45rem .9rem; border-radius: 7px; border: 1px solid transparent; cursor: pointer; display: inline-block; }
.primary { background: var(--accent); color: #fff; } .primary:hover { background: var(--accent-dark); }
.secondary { background: #fff; color: var(--text); border-color: #cfd4dc; } .secondary:hover { background: #f3f4f6; text-decoration: none; }
.warn { background: #fff7ed; color: #9a3412; border-color: #fdba74; } .warn:hover { background: #ffedd5; }
.danger { background: #fff; color: var(--timed_out); border-color: #fda29b; } .danger:hover { background: #fef3f2; }
.link { background: none; border: 0; color: #c7d2fe; padding: 0; font-weight: 500; }
.disabled { opacity: .45; cursor: default; }
.stack { display: flex; flex-direction: column; gap: .6rem; }
.filters { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: flex-end; }
.filters fieldset { border: 0; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .35rem .75rem; align-items: center; }
.filters legend { font-weight: 550; font-size: .88rem; padding: 0; margin-bottom: .25rem; float: left; width: 100%; }
.filters fieldset .check { padding: .45rem 0; }
.check { flex-direction: row; align-items: center; font-weight: 400; gap: .3rem; white-space: nowrap; }
.filters input[type=text] { width: 10rem; }
.filters input[type=datetime-local] { width: 13.5rem; }
.filter-buttons { display: flex; gap: .5rem; }
.table-card { padding: 0; overflow-x: auto; }
table.tokens { width: 100%; border-collapse: collapse; }
.tokens th, .tokens td { text-align: left; padding: .55rem .9rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.tokens th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); font-weight: 600; background: #fafbfc; }
.tokens tbody tr:hover { background: #f9fafb; }
.tokens tbody tr:last-child td { border-bottom: 0; }
.truncate { max-width: 14rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.pre-wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
.pager { display: flex; gap: .5rem; justify-content: flex-end; margin-bottom: 1rem; }
.empty { text-align: center; color: var(--muted); padding: 2.5rem; }
.flash { padding: .7rem 1rem; border-radius: var(--radius); margin-bottom: 1rem; border: 1px solid; }
.flash-success { background: #ecfdf3; border-color: #abefc6; color: #05603a; }
.flash-error { background: #fef3f2; border-color: #fecdca; color: #912018; }
.flash-info { background: #eff8ff; border-color: #b2ddff; color: #175cd3; }
.crumbs { margin-bottom: .5rem; color: var(--muted); }
.token-head h1 { font-size: 1.25rem; }
.detail-grid { display: grid; grid-template-columns: minmax(0, 1.1fr) minmax(0, 1fr); gap: 1rem; align-items: start; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: .6rem 1.5rem; margin: 0 0 1rem; }
.fields dt { color: var(--muted); font-size: .82rem; } .fields dd { margin: 0; overflow-wrap: anywhere; }
.copy-row { display: flex; gap: .5rem; } .copy-row input { flex: 1; font-size: .85rem; }
pre.json { background: #0f172a; color: #e2e8f0; padding: .8rem 1rem; border-radius: 8px; overflow: auto; max-height: 28rem; margin: .4rem 0; font: .85rem/1.45 var(--mono); white-space: pre-wrap; overflow-wrap: anywhere; }
.field-error { color: var(--timed_out); margin: 0; font-size: .88rem; }
.danger-zone { display: flex; gap: 1rem; flex-wrap: wrap; align-items: center; border-top: 1px solid var(--line); margin-top: 1rem; padding-top: 1rem; }
.danger-zone form { margin: 0; }
.inline-form { display: flex; gap: .5rem; }
.inline-form input { width: 14rem; }
.timeline { list-style: none; margin: 0; padding: 0 0 0 1.1rem; border-left: 2px solid var(--line); }
.event { position: relative; padding: 0 0 1.1rem .5rem; }
.event::before { content: ""; position: absolute; left: -1.55rem; top: .3rem; width: 12px; height: 12px; border-radius: 50%; background: #fff; border: 3px solid var(--accent); }
.event-TokenCompleted::before { border-color: var(--completed); } .event-TokenTimedOut::before { border-color: var(--timed_out); }
.event-TokenCancelled::before { border-color: var(--cancelled); } .event-TokenRejected::before { border-color: var(--timed_out); } .event-TokenCreated::before { border-color: var(--waiting); }
.event-head { display: flex; gap: .6rem; align-items: baseline; }
.event-type { font-weight: 650; }
.event-meta { color: var(--muted); margin: .1rem 0 .3rem; }
.event-meta .chip:first-of-type { margin-left: .6rem; }
details summary { cursor: pointer; color: var(--muted); font-size: .85rem; }
dialog { border: 0; border-radius: 12px; padding: 1.25rem 1.5rem; width: min(560px, 92vw); box-shadow: 0 20px 50px rgba(0,0,0,.25); }
dialog::backdrop { background: rgba(17, 24, 39, .45); }
dialog h2 { font-size: 1.1rem; }
dialog pre { max-height: 14rem; }
.buttons { display: flex; gap: .5rem; justify-content: flex-end; margin-top: 1rem; }
@media (max-width: 1000px) {
  .cards-4 { grid-template-columns: repeat(2, 1fr); }
  .detail-grid, .cards-2 { grid-template-columns: 1fr; }
  .flow { grid-template-columns: repeat(2, 1fr); }
}
`;

export const DASHBOARD_JS = String.raw`
(function () {
  'use strict';

  // ---- Live updates ------------------------------------------------------------------
  // A "change signal" tells the page that tokens may have changed; the page then re-reads
  // its fragment URL (main[data-live-src]) and swaps each <template data-part="x"> of the
  // answer into the element with data-part="x". Today the signal is a timer that runs
  // while the tab is visible. When the gateway serves the JetStream event feed over SSE,
  // replace pollingSignal with an EventSource-based signal: nothing else changes.
  function pollingSignal(intervalMs, onSignal, onPause) {
    var timer = null;
    function start() { if (timer === null) { timer = setInterval(onSignal, intervalMs); } }
    function stop() { if (timer !== null) { clearInterval(timer); timer = null; } }
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) { stop(); onPause(); } else { onSignal(); start(); }
    });
    if (!document.hidden) { start(); }
  }

  var main = document.querySelector('main[data-live-src]');
  var liveStatus = document.getElementById('live-status');
  // Last HTML swapped into each part: a part is replaced only when it changed, so an
  // unchanged part keeps its state (an expanded payload, a scroll position).
  var lastParts = {};
  var inFlight = false;

  function setLive(state, text) {
    if (!liveStatus) { return; }
    liveStatus.className = 'live ' + state;
    liveStatus.textContent = text;
  }

  function refresh() {
    if (!main || inFlight) { return; }
    inFlight = true;
    fetch(main.getAttribute('data-live-src'), {
      credentials: 'same-origin', cache: 'no-store', headers: { 'accept': 'text/html' }
    }).then(function (response) {
      if (response.status === 401) {
        window.location.href = '/dashboard/login?next=' + encodeURIComponent(location.pathname + location.search);
        return null;
      }
      if (!response.ok) { throw new Error('HTTP ' + response.status); }
      return response.text();
    }).then(function (text) {
      if (text === null) { return; }
      setLive('', 'Live · ' + new Date().toISOString().slice(11, 19) + ' UTC');
      swapParts(text);
    }).catch(function () {
      setLive('offline', 'Not updating: the gateway did not answer');
    }).then(function () { inFlight = false; });
  }

  function swapParts(text) {
    var holder = document.createElement('template');
    holder.innerHTML = text;
    var parts = holder.content.querySelectorAll('template[data-part]');
    for (var i = 0; i < parts.length; i++) {
      var name = parts[i].getAttribute('data-part');
      var target = document.querySelector('[data-part="' + name + '"]');
      if (!target || lastParts[name] === parts[i].innerHTML) { continue; }
      lastParts[name] = parts[i].innerHTML;
      target.replaceChildren(parts[i].content.cloneNode(true));
    }
    applyTokenStatus();
    document.dispatchEvent(new CustomEvent('dashboard:updated'));
  }

  // Actions make sense only while the token waits.
  function applyTokenStatus() {
    var marker = document.querySelector('[data-token-status]');
    if (!marker) { return; }
    var waiting = marker.getAttribute('data-token-status') === 'WAITING';
    var panels = document.querySelectorAll('[data-while-waiting]');
    for (var i = 0; i < panels.length; i++) { panels[i].hidden = !waiting; }
  }

  if (main) {
    var interval = parseInt(main.getAttribute('data-live-interval'), 10) || 2000;
    pollingSignal(interval, refresh, function () { setLive('paused', 'Paused while the tab is hidden'); });
    refresh();
  }

  // ---- Copy buttons --------------------------------------------------------------------
  document.addEventListener('click', function (event) {
    var button = event.target.closest ? event.target.closest('[data-copy]') : null;
    if (!button) { return; }
    var field = document.querySelector(button.getAttribute('data-copy'));
    if (!field) { return; }
    var done = function () {
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = 'Copy'; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      try { document.execCommand('copy'); done(); } catch (e) { /* the text stays selected */ }
    }
  });

  // ---- JSON payload validation -----------------------------------------------------------
  function jsonProblem(text) {
    if (text.trim() === '') { return 'Enter a JSON value, for example {"approved": true}, {} or null.'; }
    try { JSON.parse(text); return null; } catch (e) { return 'Not valid JSON: ' + e.message; }
  }

  function validateJsonField(form) {
    var name = form.getAttribute('data-json-field');
    if (!name) { return true; }
    var field = form.elements[name];
    var message = form.querySelector('.field-error');
    var problem = jsonProblem(field.value);
    field.setAttribute('aria-invalid', problem ? 'true' : 'false');
    if (message) { message.textContent = problem || ''; message.hidden = !problem; }
    return !problem;
  }

  document.addEventListener('input', function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute('data-json-field') && event.target.name === form.getAttribute('data-json-field')) {
      validateJsonField(form);
    }
  });

  // ---- Confirmation before every action ------------------------------------------------
  var dialog = document.getElementById('confirm-dialog');
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.hasAttribute('data-confirm') || form.getAttribute('data-confirmed') === 'yes') { return; }
    event.preventDefault();
    if (!validateJsonField(form)) { form.elements[form.getAttribute('data-json-field')].focus(); return; }
    var preview = document.getElementById('confirm-preview');
    document.getElementById('confirm-message').textContent = form.getAttribute('data-confirm');
    document.getElementById('confirm-ok').textContent = form.getAttribute('data-confirm-label') || 'Confirm';
    var jsonName = form.getAttribute('data-json-field');
    if (jsonName) {
      var typed = form.elements[jsonName].value;
      var pretty;
      // A value nested thousands deep is valid JSON that JSON.stringify cannot print: show it as typed.
      try { pretty = JSON.stringify(JSON.parse(typed), null, 2); } catch (e) { pretty = typed; }
      preview.textContent = pretty.length > 4000 ? pretty.slice(0, 4000) + '\n…' : pretty;
      preview.hidden = false;
    } else {
      preview.hidden = true;
    }
    dialog.returnValue = '';
    dialog.onclose = function () {
      if (dialog.returnValue !== 'confirm') { return; }
      var confirmed = document.createElement('input');
      confirmed.type = 'hidden'; confirmed.name = 'confirmed'; confirmed.value = 'yes';
      form.appendChild(confirmed);
      form.setAttribute('data-confirmed', 'yes');
      var buttons = form.querySelectorAll('button');
      for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
      form.submit();
    };
    dialog.showModal();
    document.getElementById('confirm-ok').focus();
  });
})();
`;
