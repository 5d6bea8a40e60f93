// A brand's profile (#/b/<handle>): who it is, its service figures and hours, following it,
// and the way into a chat with it.

import { ApiError } from '/sdk/atdesk.js';
import { $, busy, el, explain, initial, missingEndpoint, showError } from './dom.js';
import { pick } from './autocomplete.js';
import { duration } from './format.js';
import { renderHours } from './hours.js';
import { loadNotices } from './notices.js';
import { showView } from './router.js';
import { accountClient, brands, showing, state } from './state.js';

/** Fetch a brand and keep it in the cache. @param {string} handle */
async function fetchBrand(handle) {
  const brand = await accountClient().brand(handle);
  brands.set(brand.handle, brand);
  return brand;
}

/** The brand, or null if there is none (what we knew when the gateway is out of reach). @param {string} handle @returns {Promise<any>} */
export async function loadBrand(handle) {
  try {
    return await fetchBrand(handle);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    return brands.get(handle) ?? null;
  }
}

/** @param {string} handle */
export async function openBrand(handle) {
  showView('brand-profile', `@${handle}`);
  showError($('brand-error'), null);
  showError($('follow-error'), null);
  const cached = brands.get(handle);
  if (cached) renderBrand(cached);
  else {
    $('brand-name').textContent = `@${handle}`;
    $('brand-handle').textContent = '';
    $('brand-description').textContent = '';
    $('service-figures').replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
  }
  loadNotices(handle);
  refreshFollowing(handle);
  try {
    const brand = await fetchBrand(handle);
    if (showing('brand', handle)) renderBrand(brand);
  } catch (error) {
    if (!showing('brand', handle)) return;
    const unknown = error instanceof ApiError && error.status === 404;
    showError($('brand-error'), unknown ? `There is no brand @${handle}.` : explain(error));
  }
}

/** @param {any} brand */
function renderBrand(brand) {
  $('title').textContent = brand.name ?? `@${brand.handle}`;
  $('brand-avatar').textContent = initial(brand.name ?? brand.handle);
  $('brand-name').replaceChildren(
    el('span', { text: brand.name ?? `@${brand.handle}` }),
    brand.verified ? el('span', { class: 'verified', text: '✓ Verified', attrs: { title: 'Verified brand' } }) : '',
  );
  $('brand-handle').textContent = `@${brand.handle}`;
  $('brand-description').textContent = brand.description ?? '';
  $('brand-description').hidden = !brand.description;
  $('message-brand').textContent = `Message @${brand.handle}`;
  renderFigures(brand.service ?? {});
  renderHours(brand.hours);
  renderFollow(brand);
}

/** @param {any} service */
function renderFigures(service) {
  const median = service.median_first_response_s;
  const count = (n, one) => `${one}${n === 1 ? '' : 's'}`;
  const tile = (name, value, label) => el('div', {
    class: `figure${value === null ? ' figure-empty' : ''}`, attrs: { 'data-figure': name },
  }, [
    el('span', { class: 'figure-value', text: value ?? 'not enough data yet' }),
    el('span', { class: 'figure-label', text: label }),
  ]);
  const number = (value) => (typeof value === 'number' ? value : null);
  $('service-figures').replaceChildren(
    tile('median_first_response_s', number(median) === null ? null : `usually answers in ${duration(median)}`,
      'median first response'),
    tile('csat', number(service.csat) === null ? null : `${service.csat.toFixed(1)} / 5`, 'customer satisfaction'),
    tile('rated_cases', number(service.rated_cases) === null ? null : String(service.rated_cases),
      count(service.rated_cases, 'rated case')),
    tile('resolved_cases', number(service.resolved_cases) === null ? null : String(service.resolved_cases),
      count(service.resolved_cases, 'resolved case')),
  );
  $('window-days').textContent = String(service.window_days ?? 30);
}

// --- following ------------------------------------------------------------------------------

/** Read again whom I follow (it may have changed on another device). @param {string} handle */
async function refreshFollowing(handle) {
  try {
    const fresh = await accountClient().me();
    state.followed = new Set(fresh.following ?? []);
  } catch {
    return; // offline: what we knew stays
  }
  const brand = brands.get(handle);
  if (brand && showing('brand', handle)) renderFollow(brand);
}

/** Whether I follow it: my GET /v1/me `following`, kept up to date here. @param {any} brand */
function renderFollow(brand) {
  const button = $('follow');
  const on = state.followed.has(brand.handle);
  button.textContent = on ? 'Following' : 'Follow';
  button.setAttribute('aria-pressed', String(on));
  button.classList.toggle('is-following', on);
}

export async function onFollow() {
  const handle = state.route.arg;
  const brand = brands.get(handle);
  const client = state.client;
  if (!brand || !client) return;
  const want = !state.followed.has(brand.handle);
  await busy($('follow'), async () => {
    try {
      if (want) await client.follow(handle);
      else await client.unfollow(handle);
      if (want) state.followed.add(handle);
      else state.followed.delete(handle);
      showError($('follow-error'), null);
    } catch (error) {
      showError($('follow-error'), missingEndpoint(error)
        ? 'Following is not available on this gateway yet (POST /v1/brands/{handle}/follow is missing).'
        : explain(error));
    }
  });
  renderFollow(brand);
}

export function onMessageBrand() {
  const handle = state.route.arg;
  if (handle) pick(handle);
}
