// Notices (PROTOCOL 7): owners and admins tell the brand's customers first; the list is
// the brand's public incident history, newest first, and grows live.

import { ApiError } from '/sdk/atdesk.js';
import { $, h, show, showError, when } from './dom.js';
import { canManage, client, state } from './state.js';

const shown = new Map(); // handle -> [notice], newest first

export async function loadNoticesPage() {
  const handle = state.handle;
  const manage = canManage();
  $('#notices-note').textContent = manage
    ? `A notice reaches every follower of @${handle} and every customer with an open conversation, live or by push.`
    : `What @${handle} told its customers. Only owners and admins post notices.`;
  show($('#notice-form'), manage);
  showError($('#notice-error'), null);
  show($('#notice-ok'), false);
  try {
    const notices = await client.notices(handle, { limit: 50 });
    shown.set(handle, notices);
    if (state.handle === handle) renderNotices(notices);
  } catch (error) {
    showError($('#notice-error'), notAvailable(error) ? 'This gateway does not keep notices yet.' : error);
  }
}

function notAvailable(error) {
  return error instanceof ApiError && (error.status === 404 || error.status === 405) && error.code !== 'unknown_brand';
}

function renderNotices(notices) {
  const items = notices.map((notice) => h('li', { class: 'notice card', dataset: { id: notice.id } },
    h('div', { class: 'notice-head' },
      h('strong', { class: 'notice-title' }, notice.title),
      h('time', { class: 'notice-time muted', datetime: notice.created_at }, when(notice.created_at))),
    h('p', { class: 'notice-text' }, notice.text)));
  if (!items.length) items.push(h('li', { class: 'muted empty' }, 'No notices yet.'));
  $('#notices-list').replaceChildren(...items);
}

/** A notice posted here, or arriving live: newest first, each once. */
export function addNotice(notice) {
  const handle = notice.brand;
  const known = shown.get(handle);
  if (!known) return;
  if (!known.some((n) => n.id === notice.id)) known.unshift(notice);
  if (state.handle === handle && state.route.name === 'notices') renderNotices(known);
}

export async function postNotice(event) {
  event.preventDefault();
  const handle = state.handle;
  const title = $('#notice-title').value.trim();
  const text = $('#notice-text').value.trim();
  showError($('#notice-error'), null);
  show($('#notice-ok'), false);
  if (!title || !text) {
    showError($('#notice-error'), 'A notice needs a title and a text.');
    return;
  }
  $('#notice-post').disabled = true;
  try {
    const notice = await client.postNotice(handle, title, text);
    $('#notice-title').value = '';
    $('#notice-text').value = '';
    $('#notice-ok').textContent = 'Posted: your customers are being told.';
    show($('#notice-ok'), true);
    addNotice({ brand: handle, ...notice });
  } catch (error) {
    showError($('#notice-error'), notAvailable(error) ? 'This gateway cannot post notices yet.' : error);
  } finally {
    $('#notice-post').disabled = false;
  }
}
