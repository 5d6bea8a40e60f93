// Notices (a brand telling its customers first): the banner a live notice raises, and a
// brand's list of notices on its profile.

import { normalizeHandle } from '/sdk/atdesk.js';
import { $, el, explain, missingEndpoint } from './dom.js';
import { when } from './format.js';
import { go } from './router.js';
import { accountClient, showing } from './state.js';

/** @param {{id?: string, brand?: any, title?: string, text?: string}} notice */
export function onNotice(notice) {
  if (!notice) return;
  const brand = notice.brand;
  const handle = typeof brand === 'string' ? normalizeHandle(brand) : brand?.handle ?? '';
  $('notice-banner-brand').textContent = handle ? `@${handle}` : '';
  $('notice-banner-title').textContent = notice.title ?? 'Notice';
  $('notice-banner-text').textContent = notice.text ?? '';
  $('notice-banner').dataset.handle = handle;
  $('notice-banner').hidden = false;
  if (showing('brand', handle)) loadNotices(handle);
}

export function dismissNotice() {
  $('notice-banner').hidden = true;
}

/** The banner's "open": the profile of the brand that posted it. */
export function openNotice() {
  const handle = $('notice-banner').dataset.handle;
  $('notice-banner').hidden = true;
  if (handle) go(`#/b/${encodeURIComponent(handle)}`);
}

/** @param {string} handle */
export async function loadNotices(handle) {
  const list = $('notices');
  const status = $('notices-status');
  try {
    const notices = await accountClient().notices(handle, { limit: 20 });
    if (!showing('brand', handle)) return;
    list.replaceChildren(...notices.map((notice) => el('li', { class: 'notice' }, [
      el('p', { class: 'notice-title', text: notice.title ?? '' }),
      el('p', { class: 'notice-text', text: notice.text ?? '' }),
      el('p', { class: 'notice-time muted small', text: when(notice.created_at) }),
    ])));
    status.textContent = notices.length ? '' : 'No notices: nothing to report.';
  } catch (error) {
    if (!showing('brand', handle)) return;
    list.replaceChildren();
    status.textContent = missingEndpoint(error)
      ? 'Notices are not available on this gateway yet.'
      : `Could not load notices: ${explain(error)}`;
  }
}
