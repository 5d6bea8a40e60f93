// Hash routes (#/threads, #/new, #/c/<id>, #/to/<handle>, #/b/<handle>): which view is on
// screen, and redrawing it when what it shows changes.

import { normalizeHandle } from '/sdk/atdesk.js';
import { $ } from './dom.js';
import { openNew } from './autocomplete.js';
import { openChat, openDraft, renderChat } from './chat.js';
import { hideTyping } from './live.js';
import { openBrand } from './profile.js';
import { state } from './state.js';
import { openThreads, renderThreads } from './threads.js';

const VIEWS = ['view-loading', 'view-signin', 'view-signup', 'view-threads', 'view-new', 'chat', 'brand-profile'];

let navigations = 0; // hash changes inside this page: Back may return to the previous view
let renderQueued = false;

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const arg = decodeURIComponent(parts.slice(1).join('/'));
  switch (parts[0]) {
    case 'new': return { name: 'new', arg: '' };
    case 'c': return arg ? { name: 'chat', arg } : { name: 'threads', arg: '' };
    case 'to': return arg ? { name: 'draft', arg: normalizeHandle(arg) } : { name: 'new', arg: '' };
    case 'b': return arg ? { name: 'brand', arg: normalizeHandle(arg) } : { name: 'threads', arg: '' };
    default: return { name: 'threads', arg: '' };
  }
}

/** @param {string} hash @param {{replace?: boolean}} [options] */
export function go(hash, { replace = false } = {}) {
  if (location.hash === hash) {
    onRoute();
  } else if (replace) {
    history.replaceState(null, '', hash);
    onRoute();
  } else {
    location.hash = hash;
  }
}

/** @param {string} id @param {string} title */
export function showView(id, title) {
  for (const view of VIEWS) $(view).hidden = view !== id;
  $('main').classList.toggle('main-chat', id === 'chat');
  $('title').textContent = title;
  $('back').hidden = !['view-new', 'chat', 'brand-profile'].includes(id);
}

export function onRoute() {
  if (!state.me) return; // signed out: the sign-in view stays
  state.route = parseRoute();
  const route = state.route;
  hideTyping();
  switch (route.name) {
    case 'new': openNew(); break;
    case 'chat': openChat(route.arg); break;
    case 'draft': openDraft(route.arg); break;
    case 'brand': openBrand(route.arg); break;
    default: openThreads();
  }
}

export function onHashChange() {
  navigations += 1;
  onRoute();
}

export function onBack() {
  if (state.route.name === 'brand' && navigations > 0) history.back();
  else go('#/threads');
}

/** Redraw the list or the chat on screen, once for all the changes of this task. */
export function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    if (!state.me) return;
    const name = state.route.name;
    if (name === 'threads') renderThreads();
    else if (name === 'chat' || name === 'draft') renderChat();
  });
}
