// The brand profile page: name, description, opening hours, and the public service figures.

import { ApiError } from '/sdk/atdesk.js';
import { $, h, show, showError, describe, duration } from './dom.js';
import { canManage, client, role, state } from './state.js';

export const DAYS = [
  ['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'],
  ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday'],
];

export function buildHoursRows() {
  const rows = DAYS.map(([key, label]) => h('tr', { dataset: { day: key } },
    h('th', { scope: 'row' }, label),
    h('td', {}, h('input', { type: 'checkbox', id: `hours-${key}-open`, 'aria-label': `Open on ${label}` })),
    h('td', {}, h('input', { type: 'time', id: `hours-${key}-from`, 'aria-label': `${label} opens at`, value: '09:00' })),
    h('td', {}, h('input', { type: 'time', id: `hours-${key}-to`, 'aria-label': `${label} closes at`, value: '17:00' }))));
  $('#hours-rows').replaceChildren(...rows);
  for (const [key] of DAYS) {
    $(`#hours-${key}-open`).addEventListener('change', () => syncHoursRow(key));
  }
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  $('#timezones').replaceChildren(...zones.map((zone) => h('option', { value: zone })));
}

export function syncHoursRow(key) {
  const open = $(`#hours-${key}-open`).checked;
  $(`#hours-${key}-from`).disabled = !open || !canManage();
  $(`#hours-${key}-to`).disabled = !open || !canManage();
}

// Intervals after a day's first one: the editor shows one per day and saves the rest as they were.
const extraIntervals = new Map();

export function fillHours(hours) {
  const weekly = hours?.weekly ?? {};
  const defaultOpen = !hours;
  $('#hours-note').textContent = hours
    ? 'Customers who write outside these hours are told at once when a human will answer.'
    : 'No opening hours saved yet: below is a suggestion; save to publish it.';
  extraIntervals.clear();
  $('#profile-timezone').value = hours?.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  for (const [key] of DAYS) {
    const intervals = weekly[key];
    const first = Array.isArray(intervals) ? intervals[0] : null;
    if (Array.isArray(intervals) && intervals.length > 1) extraIntervals.set(key, intervals.slice(1));
    $(`#hours-${key}-open`).checked = first ? true : defaultOpen && !['sat', 'sun'].includes(key);
    $(`#hours-${key}-from`).value = first?.[0] ?? '09:00';
    $(`#hours-${key}-to`).value = first?.[1] ?? '17:00';
    syncHoursRow(key);
  }
}

export function readHours() {
  const time_zone = $('#profile-timezone').value.trim();
  if (!time_zone) throw new Error('Pick a time zone, e.g. Europe/Paris.');
  const zones = typeof Intl.supportedValuesOf === 'function' ? new Set(Intl.supportedValuesOf('timeZone')) : null;
  if (zones && !zones.has(time_zone) && time_zone !== 'UTC') {
    try {
      new Intl.DateTimeFormat('en', { timeZone: time_zone });
    } catch {
      throw new Error(`${time_zone} is not an IANA time zone (e.g. Europe/Paris).`);
    }
  }
  const weekly = {};
  for (const [key, label] of DAYS) {
    if (!$(`#hours-${key}-open`).checked) {
      weekly[key] = [];
      continue;
    }
    const from = $(`#hours-${key}-from`).value;
    const to = $(`#hours-${key}-to`).value;
    if (!from || !to || from >= to) throw new Error(`${label}: the closing time must be after the opening time.`);
    weekly[key] = [[from, to], ...(extraIntervals.get(key) ?? [])];
  }
  return { time_zone, weekly };
}

export async function loadProfilePage() {
  const handle = state.handle;
  const manage = canManage();
  showError($('#profile-error'), null);
  show($('#profile-ok'), false);
  let brand;
  try {
    brand = await client.brand(handle);
    state.brands.set(handle, brand);
  } catch (error) {
    showError($('#profile-error'), error);
    return;
  }
  if (state.handle !== handle) return;
  $('#profile-handle').textContent = `@${brand.handle}${brand.verified ? ' · verified' : ''}${manage ? '' : ' · only owners and admins can edit'}`;
  $('#profile-name').value = brand.name;
  $('#profile-description').value = brand.description ?? '';
  fillHours(brand.hours ?? null);
  // Shown only when the gateway routes cases (its brand object has the field).
  const routes = typeof brand.auto_assign === 'boolean';
  show($('#routing'), routes);
  $('#profile-auto-assign').checked = Boolean(brand.auto_assign);
  for (const element of ['#profile-name', '#profile-description', '#profile-timezone', '#profile-save', '#profile-auto-assign']) $(element).disabled = !manage;
  for (const [key] of DAYS) $(`#hours-${key}-open`).disabled = !manage;
  renderFigures(brand.service);
}

export function renderFigures(service) {
  const list = $('#service-figures');
  const none = 'not enough data yet';
  const s = service ?? {};
  const rows = [
    ['Median first response', s.median_first_response_s == null ? none : duration(s.median_first_response_s)],
    ['Customer satisfaction', s.csat == null ? none : `${Number(s.csat).toFixed(1)} / 5`],
    ['Rated cases', s.rated_cases == null ? none : String(s.rated_cases)],
    ['Resolved cases', s.resolved_cases == null ? none : String(s.resolved_cases)],
  ];
  list.replaceChildren(...rows.flatMap(([term, value]) => [
    h('dt', {}, term),
    h('dd', { class: value === none ? 'muted' : 'figure' }, value),
  ]));
  list.append(h('dt', {}, 'Window'), h('dd', {}, `last ${s.window_days ?? 30} days`));
}

export async function saveProfile(event) {
  event.preventDefault();
  const handle = state.handle;
  showError($('#profile-error'), null);
  show($('#profile-ok'), false);
  let changes;
  try {
    const name = $('#profile-name').value.trim();
    if (!name) throw new Error('The name must not be empty.');
    changes = { name, description: $('#profile-description').value.trim(), hours: readHours() };
    if (!$('#routing').hidden) changes.auto_assign = $('#profile-auto-assign').checked;
  } catch (error) {
    showError($('#profile-error'), error.message);
    return;
  }
  $('#profile-save').disabled = true;
  try {
    const brand = await client.updateBrand(handle, changes);
    if (brand) state.brands.set(handle, brand);
    $('#profile-ok').textContent = 'Saved.';
    show($('#profile-ok'), true);
    const option = [...$('#brand-picker').options].find((o) => o.value === handle);
    if (option) option.textContent = `${changes.name} · ${role()}`;
    if (brand?.service) renderFigures(brand.service);
  } catch (error) {
    const reason = error instanceof ApiError && (error.status === 404 || error.status === 405)
      ? 'this gateway cannot change brand profiles yet'
      : describe(error);
    showError($('#profile-error'), `Not saved: ${reason}.`);
  } finally {
    $('#profile-save').disabled = !canManage();
  }
}
