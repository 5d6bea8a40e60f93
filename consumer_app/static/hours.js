// A brand's opening hours: a week of intervals in its own time zone, summed up for the
// profile, and whether the desk is open now.

import { $, el } from './dom.js';

const DAY_KEYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_NAMES = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
const DAY_SHORT = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

/** A day's open intervals as minutes [start, end), sorted. @param {any} weekly @param {string} day */
function dayIntervals(weekly, day) {
  const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const raw = Array.isArray(weekly?.[day]) ? weekly[day] : [];
  return raw.filter((pair) => Array.isArray(pair) && pair.length === 2)
    .map(([start, end]) => ({ start: minutes(start), end: minutes(end), from: start, to: end }))
    .sort((a, b) => a.start - b.start);
}

/** Runs of consecutive days with the same hours: [{from, to, text}], Monday first. @param {any} weekly */
function dayGroups(weekly) {
  const groups = [];
  for (const day of DAY_KEYS) {
    const intervals = dayIntervals(weekly, day);
    const text = intervals.length ? intervals.map((i) => `${i.from}–${i.to}`).join(', ') : 'Closed';
    const last = groups.at(-1);
    if (last && last.text === text) last.to = day;
    else groups.push({ from: day, to: day, text });
  }
  return groups;
}

/** @param {{from: string, to: string}} group @param {Record<string, string>} names */
const daySpan = (group, names) => (group.from === group.to ? names[group.from] : `${names[group.from]}–${names[group.to]}`);

/** "Mon–Fri 09:00–17:00; Sat 10:00–13:00, Europe/Paris". @param {any} hours */
function hoursSummary(hours) {
  const open = dayGroups(hours.weekly).filter((group) => group.text !== 'Closed');
  const days = open.length ? open.map((group) => `${daySpan(group, DAY_SHORT)} ${group.text}`).join('; ') : 'Closed every day';
  return hours.time_zone ? `${days}, ${hours.time_zone}` : days;
}

/** The weekday (0 = Monday) and minutes past midnight on the wall clocks of a time zone. @param {string} timeZone @param {Date} now */
function wallClock(timeZone, now) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(now);
  const part = (type) => parts.find((p) => p.type === type)?.value ?? '';
  const day = DAY_KEYS.indexOf(part('weekday').slice(0, 3).toLowerCase());
  return { day, minutes: (Number(part('hour')) % 24) * 60 + Number(part('minute')) };
}

/**
 * Is the desk open now, and until / from when: the brand's wall clock through Intl (so its
 * daylight saving is the browser's tz database's). An interval never crosses midnight.
 * @param {any} hours @param {Date} [now]
 * @returns {{open: boolean, text: string}|null} null when the time zone is unknown here
 */
export function deskState(hours, now = new Date()) {
  let clock;
  try {
    clock = wallClock(hours.time_zone, now);
  } catch {
    return null; // a time zone this browser does not know
  }
  if (clock.day < 0) return null;
  const current = dayIntervals(hours.weekly, DAY_KEYS[clock.day])
    .find((i) => i.start <= clock.minutes && clock.minutes < i.end);
  if (current) return { open: true, text: `Open now · until ${current.end === 1440 ? 'midnight' : current.to}` };
  for (let offset = 0; offset <= 7; offset++) {
    const key = DAY_KEYS[(clock.day + offset) % 7];
    const next = dayIntervals(hours.weekly, key).find((i) => offset > 0 || i.start > clock.minutes);
    if (!next) continue;
    const day = offset === 0 ? 'today' : offset === 1 ? 'tomorrow' : offset === 7 ? `next ${DAY_SHORT[key]}` : DAY_SHORT[key];
    return { open: false, text: `Closed now · opens ${day} at ${next.from}` };
  }
  return { open: false, text: 'Closed now' };
}

/** The profile's hours section. @param {any} hours */
export function renderHours(hours) {
  const weekly = hours?.weekly;
  $('hours-section').hidden = !weekly;
  if (!weekly) return;
  $('hours-summary').textContent = hoursSummary(hours);
  $('opening-hours').replaceChildren(...dayGroups(weekly).map((group) => el('div', { class: 'hours-row' }, [
    el('dt', { text: daySpan(group, DAY_NAMES) }),
    el('dd', { text: group.text }),
  ])));
  const desk = deskState(hours);
  const badge = $('open-now');
  badge.hidden = !desk;
  badge.textContent = desk?.text ?? '';
  badge.classList.toggle('is-open', Boolean(desk?.open));
  badge.classList.toggle('is-closed', Boolean(desk && !desk.open));
  $('hours-zone').textContent = hours.time_zone ? `Times in ${hours.time_zone}.` : '';
}
