// Canned replies: the brand's saved answers. Owners and admins manage them on #/canned;
// in the reply box, `/` at the start opens a picker that filters them as you type
// (arrows choose, Enter or a click inserts the text; the agent still sends it with Enter).

import { ApiError } from '/sdk/atdesk.js';
import { $, h, show, showError } from './dom.js';
import { canManage, client, state } from './state.js';

const cache = new Map(); // handle -> [canned reply]
// `dismissed`: the reply box's value when the picker was last closed by a choice or Escape;
// it stays closed while the agent types on from there.
const picker = { open: false, options: [], index: 0, dismissed: null };

function path(handle) {
  return `/v1/brands/${encodeURIComponent(handle)}/canned`;
}

export async function cannedReplies(handle, { fresh = false } = {}) {
  if (!fresh && cache.has(handle)) return cache.get(handle);
  const answer = await client.request('GET', path(handle));
  const replies = answer?.canned ?? [];
  cache.set(handle, replies);
  return replies;
}

// --- the page ------------------------------------------------------------------------------

export async function loadCannedPage() {
  const handle = state.handle;
  const manage = canManage();
  $('#canned-note').textContent = manage
    ? `Saved answers for @${handle}: type / at the start of a reply to insert one.`
    : `Saved answers for @${handle}: type / at the start of a reply to insert one. Only owners and admins can change them.`;
  show($('#canned-form'), manage);
  showError($('#canned-error'), null);
  try {
    const replies = await cannedReplies(handle, { fresh: true });
    if (state.handle === handle) renderCanned(replies);
  } catch (error) {
    showError($('#canned-error'), unavailable(error, 'canned replies'));
  }
}

function unavailable(error, what) {
  return error instanceof ApiError && (error.status === 404 || error.status === 405) && error.code !== 'unknown_brand'
    ? `This gateway does not keep ${what} yet.`
    : error;
}

function renderCanned(replies) {
  const manage = canManage();
  const items = [...replies]
    .sort((a, b) => a.title.localeCompare(b.title))
    .map((reply) => h('li', { class: 'canned card', dataset: { id: reply.id } },
      h('div', { class: 'canned-head' },
        h('strong', { class: 'canned-title' }, reply.title),
        manage ? h('button', {
          type: 'button', class: 'canned-remove danger', 'aria-label': `Remove the canned reply ${reply.title}`,
          onclick: () => removeCanned(reply),
        }, 'Remove') : ''),
      h('p', { class: 'canned-text' }, reply.text)));
  if (!items.length) items.push(h('li', { class: 'muted empty' }, 'No canned replies yet.'));
  $('#canned-list').replaceChildren(...items);
}

export async function addCanned(event) {
  event.preventDefault();
  const handle = state.handle;
  const title = $('#canned-title').value.trim();
  const text = $('#canned-text').value.trim();
  showError($('#canned-error'), null);
  if (!title || !text) {
    showError($('#canned-error'), 'A canned reply needs a title and a text.');
    return;
  }
  $('#canned-add').disabled = true;
  try {
    await client.request('POST', path(handle), { body: { title, text } });
    $('#canned-title').value = '';
    $('#canned-text').value = '';
    renderCanned(await cannedReplies(handle, { fresh: true }));
  } catch (error) {
    showError($('#canned-error'), unavailable(error, 'canned replies'));
  } finally {
    $('#canned-add').disabled = false;
  }
}

async function removeCanned(reply) {
  const handle = state.handle;
  showError($('#canned-error'), null);
  try {
    await client.request('DELETE', `${path(handle)}/${encodeURIComponent(reply.id)}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      showError($('#canned-error'), error);
      return;
    }
  }
  renderCanned(await cannedReplies(handle, { fresh: true }));
}

// --- the picker in the reply box -----------------------------------------------------------

function threadHandle() {
  const id = state.thread?.id;
  return (id && state.conversations.get(id)?.brand.handle) || state.handle;
}

/** Fetch the replies of the thread's brand ahead of the first `/`. */
export function preloadCanned() {
  const handle = threadHandle();
  if (handle) cannedReplies(handle).catch(() => {});
}

function matches(replies, query) {
  const q = query.trim().toLowerCase();
  if (!q) return replies;
  const starts = replies.filter((r) => r.title.toLowerCase().startsWith(q));
  const contains = replies.filter((r) => !starts.includes(r) && (r.title.toLowerCase().includes(q) || r.text.toLowerCase().includes(q)));
  return [...starts, ...contains];
}

/** On each input in the reply box: open, filter or close the picker. */
export async function onCannedInput() {
  const value = $('#reply').value;
  if (picker.dismissed !== null && !value.startsWith(picker.dismissed)) picker.dismissed = null;
  if (!value.startsWith('/') || value.includes('\n') || picker.dismissed !== null) {
    closePicker();
    return;
  }
  const handle = threadHandle();
  let replies = [];
  try {
    replies = await cannedReplies(handle);
  } catch {
    // No canned replies on this gateway: the reply box works as before.
  }
  if ($('#reply').value !== value) return; // typed on meanwhile: that input redraws
  picker.options = matches(replies, value.slice(1)).slice(0, 8);
  picker.index = 0;
  picker.open = true;
  renderPicker();
}

function renderPicker() {
  const list = $('#canned-picker');
  const box = $('#reply');
  const items = picker.options.map((reply, index) => h('li', {
    id: `canned-option-${index}`, class: 'canned-option', role: 'option',
    'aria-selected': String(index === picker.index), dataset: { id: reply.id },
    // mousedown, not click: the reply box keeps the focus
    onmousedown: (event) => {
      event.preventDefault();
      insert(index);
    },
  }, h('strong', { class: 'canned-option-title' }, reply.title), h('span', { class: 'canned-option-text muted' }, reply.text)));
  if (!items.length) items.push(h('li', { class: 'canned-none muted' }, 'No canned reply matches. Owners and admins add them on the Canned page.'));
  list.replaceChildren(...items);
  show(list, true);
  box.setAttribute('aria-expanded', 'true');
  if (picker.options.length) box.setAttribute('aria-activedescendant', `canned-option-${picker.index}`);
  else box.removeAttribute('aria-activedescendant');
}

export function closePicker() {
  picker.open = false;
  picker.options = [];
  show($('#canned-picker'), false);
  $('#reply').setAttribute('aria-expanded', 'false');
  $('#reply').removeAttribute('aria-activedescendant');
}

function insert(index) {
  const reply = picker.options[index];
  if (!reply) return;
  const box = $('#reply');
  box.value = reply.text;
  picker.dismissed = reply.text;
  closePicker();
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

/** Keys in the reply box while the picker is open; true when the picker took the key. */
export function cannedPickerKey(event) {
  if (!picker.open || event.isComposing) return false;
  const count = picker.options.length;
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    if (!count) return false;
    event.preventDefault();
    picker.index = (picker.index + (event.key === 'ArrowDown' ? 1 : count - 1)) % count;
    renderPicker();
    return true;
  }
  if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
    if (!count) return false;
    event.preventDefault();
    insert(picker.index);
    return true;
  }
  if (event.key === 'Escape') {
    event.preventDefault();
    picker.dismissed = $('#reply').value;
    closePicker();
    return true;
  }
  return false;
}
