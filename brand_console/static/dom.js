// Small DOM helpers shared by the console's pages. Data reaches the page as text only.

import { ApiError } from '/sdk/atdesk.js';

export const $ = (selector) => document.querySelector(selector);

/** An element with attributes and children; strings become text nodes, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'text') element.textContent = value;
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
  return element;
}

export function show(element, visible) {
  element.hidden = !visible;
}

export function showError(element, error) {
  if (!error) {
    element.textContent = '';
    element.hidden = true;
    return;
  }
  element.textContent = typeof error === 'string' ? error : describe(error);
  element.hidden = false;
}

export function showAppError(error) {
  showError($('#app-error'), error ? `Something went wrong: ${describe(error)}` : null);
}

export function describe(error) {
  if (error instanceof ApiError) return error.detail || error.code;
  if (error instanceof Error) return error.message;
  return String(error);
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const today = new Date();
  return date.toDateString() === today.toDateString() ? clock.format(date) : `${day.format(date)}, ${clock.format(date)}`;
}

export function duration(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
