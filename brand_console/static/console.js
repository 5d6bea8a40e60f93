// The brand console: a small client app on the atdesk JavaScript SDK, no build step.
//
// Every piece of data (a message, a name, a description) reaches the page through
// textContent or createTextNode, never as HTML: the page's CSP forbids inline script too.
//
// This entry module signs in, picks the brand, routes #/... to a page module and wires the
// static controls; each page lives in its own module.

import { AuthError, ApiError } from '/sdk/atdesk.js';
import { $, h, show, showError, describe, showAppError } from './dom.js';
import { setFilter, renderInbox } from './inbox.js';
import { listenToClient, refreshConversations } from './live.js';
import { addCanned, closePicker, loadCannedPage, onCannedInput } from './canned.js';
import { loadDashboardPage } from './dashboard.js';
import { addMember, loadMembersPage } from './members.js';
import { loadNoticesPage, postNotice } from './notices.js';
import { buildHoursRows, loadProfilePage, saveProfile } from './profile.js';
import { BRAND_KEY, ENDED_KEY, client, state } from './state.js';
import { assignToMe, assignToSelected, closeThread, markThreadRead, onReplyInput, onReplyKey, openThread, resolveThread, sendReply } from './thread.js';

// --- routing ----------------------------------------------------------------------------------

// Each page: its container, its nav link, and what fills it when shown.
const PAGES = {
  dashboard: { view: '#dashboard', tab: '#nav-dashboard', load: loadDashboardPage },
  canned: { view: '#canned-view', tab: '#nav-canned', load: loadCannedPage },
  notices: { view: '#notices-view', tab: '#nav-notices', load: loadNoticesPage },
  members: { view: '#members-view', tab: '#nav-members', load: loadMembersPage },
  profile: { view: '#profile-view', tab: '#nav-profile', load: loadProfilePage },
};

function parseRoute() {
  const hash = location.hash || '#/inbox';
  const conversation = /^#\/c\/(.+)$/.exec(hash);
  if (conversation) return { name: 'conversation', id: decodeURIComponent(conversation[1]) };
  const page = /^#\/([a-z]+)$/.exec(hash)?.[1];
  if (page && Object.hasOwn(PAGES, page)) return { name: page, id: null };
  return { name: 'inbox', id: null };
}

async function route() {
  if (!state.me) return;
  const previous = state.route;
  state.route = parseRoute();
  const name = state.route.name;
  const hasBrand = state.handle !== null;
  show($('#nobrand-view'), !hasBrand);
  show($('#inbox-view'), hasBrand && (name === 'inbox' || name === 'conversation'));
  for (const [page, { view, tab }] of Object.entries(PAGES)) {
    show($(view), hasBrand && name === page);
    if (name === page) $(tab).setAttribute('aria-current', 'page');
    else $(tab).removeAttribute('aria-current');
  }
  if (name === 'inbox' || name === 'conversation') $('#nav-inbox').setAttribute('aria-current', 'page');
  else $('#nav-inbox').removeAttribute('aria-current');
  $('#inbox-view').classList.toggle('has-thread', name === 'conversation');
  if (!hasBrand) return;
  if (name === 'conversation') {
    if (previous.name !== 'conversation' || previous.id !== state.route.id || !state.thread) await openThread(state.route.id);
  } else {
    closeThread();
  }
  if (Object.hasOwn(PAGES, name)) await PAGES[name].load();
  renderInbox();
}

// --- sign in / out -----------------------------------------------------------------------------

async function boot() {
  wireStaticControls();
  try {
    state.me = await client.me();
  } catch (error) {
    if (error instanceof AuthError) {
      const ended = sessionStorage.getItem(ENDED_KEY);
      sessionStorage.removeItem(ENDED_KEY);
      showSignIn(ended ? 'Your session ended: sign in again.' : null);
      return;
    }
    showSignIn(`The gateway could not be reached: ${describe(error)}`);
    return;
  }
  await startApp();
}

function showSignIn(message) {
  show($('#app-view'), false);
  show($('#signin-view'), true);
  showError($('#signin-error'), message || null);
  $('#signin-email').focus();
}

async function signIn(event) {
  event.preventDefault();
  const email = $('#signin-email').value.trim();
  const password = $('#signin-password').value;
  const button = $('#signin-submit');
  showError($('#signin-error'), null);
  if (!email || !password) {
    showError($('#signin-error'), 'Enter your email and password.');
    return;
  }
  button.disabled = true;
  try {
    await client.signIn(email, password, 'atdesk console');
    state.me = await client.me();
  } catch (error) {
    if (error instanceof AuthError) showError($('#signin-error'), 'Wrong email or password.');
    else if (error instanceof ApiError && error.code === 'rate_limited') showError($('#signin-error'), 'Too many attempts: wait a moment and try again.');
    else showError($('#signin-error'), `Could not sign in: ${describe(error)}`);
    button.disabled = false;
    return;
  }
  button.disabled = false;
  $('#signin-password').value = '';
  await startApp();
}

async function signOut() {
  state.signingOut = true;
  try {
    await client.signOut();
  } catch {
    // The cookie may be gone already; the page starts over either way.
  }
  await client.close();
  // A client belongs to one account: a fresh page makes a fresh one.
  location.hash = '#/inbox';
  location.reload();
}

async function startApp() {
  show($('#signin-view'), false);
  show($('#app-view'), true);
  $('#me-name').textContent = state.me.display_name;
  await loadBrands();
  listenToClient();
  client.connect({ wait: false }).catch((error) => showAppError(error));
  await refreshConversations();
  await route();
}

// --- brands ---------------------------------------------------------------------------------------

async function loadBrands() {
  const picker = $('#brand-picker');
  picker.replaceChildren();
  const handles = state.me.brands.map((b) => b.handle);
  const found = await Promise.all(handles.map((handle) => client.brand(handle).catch(() => null)));
  found.forEach((brand, i) => {
    if (brand) state.brands.set(handles[i], brand);
  });
  for (const { handle, role: myRole } of state.me.brands) {
    const name = state.brands.get(handle)?.name ?? handle;
    picker.append(h('option', { value: handle, title: `@${handle}` }, `${name} · ${myRole}`));
  }
  const saved = localStorage.getItem(BRAND_KEY);
  state.handle = handles.includes(saved) ? saved : handles[0] ?? null;
  if (state.handle) picker.value = state.handle;
}

async function pickBrand() {
  state.handle = $('#brand-picker').value;
  localStorage.setItem(BRAND_KEY, state.handle);
  if (state.route.name === 'conversation') location.hash = '#/inbox';
  else await route();
}

// --- keyboard -------------------------------------------------------------------------------------

function onGlobalKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const typingInField = target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
  if (event.key === 'Escape' && state.route.name === 'conversation') {
    const id = state.route.id;
    location.hash = '#/inbox';
    setTimeout(() => document.querySelector(`.inbox-item[data-conversation-id="${CSS.escape(id)}"]`)?.focus(), 0);
    return;
  }
  if (typingInField || !['inbox', 'conversation'].includes(state.route.name)) return;
  if (event.key === 'j' || event.key === 'k') {
    const items = [...document.querySelectorAll('#inbox .inbox-item')];
    if (!items.length) return;
    const currentId = state.thread?.id ?? document.activeElement?.dataset?.conversationId;
    let index = items.findIndex((item) => item.dataset.conversationId === currentId);
    index = event.key === 'j' ? Math.min(items.length - 1, index + 1) : Math.max(0, index - 1);
    event.preventDefault();
    items[index].focus();
    location.hash = items[index].getAttribute('href');
  } else if (event.key === 'r' && state.thread) {
    event.preventDefault();
    $('#reply').focus();
  }
}

// --- wiring ---------------------------------------------------------------------------------------

function wireStaticControls() {
  $('#signin-form').addEventListener('submit', signIn);
  $('#signout').addEventListener('click', signOut);
  $('#brand-picker').addEventListener('change', pickBrand);
  $('#filter-open').addEventListener('click', () => setFilter('status', 'open'));
  $('#filter-resolved').addEventListener('click', () => setFilter('status', 'resolved'));
  $('#filter-all-assignees').addEventListener('click', () => setFilter('assignee', 'all'));
  $('#filter-unassigned').addEventListener('click', () => setFilter('assignee', 'unassigned'));
  $('#filter-mine').addEventListener('click', () => setFilter('assignee', 'mine'));
  $('#reply-form').addEventListener('submit', sendReply);
  $('#reply').addEventListener('keydown', onReplyKey);
  $('#reply').addEventListener('input', onReplyInput);
  $('#reply').addEventListener('input', () => onCannedInput().catch(showAppError));
  $('#reply').addEventListener('blur', closePicker);
  $('#assign-me').addEventListener('click', assignToMe);
  $('#assign-select').addEventListener('change', assignToSelected);
  $('#resolve').addEventListener('click', resolveThread);
  $('#member-form').addEventListener('submit', addMember);
  $('#profile-form').addEventListener('submit', saveProfile);
  $('#canned-form').addEventListener('submit', addCanned);
  $('#notice-form').addEventListener('submit', postNotice);
  document.addEventListener('keydown', onGlobalKey);
  document.addEventListener('visibilitychange', markThreadRead);
  window.addEventListener('hashchange', () => route().catch(showAppError));
  buildHoursRows();
}

boot().catch(showAppError);
