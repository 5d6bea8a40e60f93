// Small DOM helpers shared by the app's views. Text reaches the page through textContent
// only: nothing typed by anyone is parsed as HTML.

import { ApiError, NetworkError } from '/sdk/atdesk.js';

/** @param {string} id @returns {any} */
export const $ = (id) => document.getElementById(id);

/**
 * An element with text (never HTML), classes, attributes and children.
 * @param {string} tag
 * @param {{class?: string, text?: string, attrs?: Record<string, string>}} [options]
 * @param {Array<Node|null|false|undefined>} [children]
 */
export function el(tag, { class: className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/** @param {HTMLElement} node @param {string|null} message */
export function showError(node, message) {
  node.textContent = message ?? '';
  node.hidden = !message;
}

/** Disable a button while its action runs. @param {HTMLButtonElement} button @param {() => Promise<void>} action */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** What to tell a person about a failed call. @param {unknown} error */
export function explain(error) {
  if (error instanceof NetworkError) return 'Cannot reach atdesk right now. Check your connection and try again.';
  if (error instanceof ApiError) {
    if (error.code === 'rate_limited') return 'Too many attempts. Please wait a moment and try again.';
    return error.detail || `Something went wrong (${error.code}).`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** An endpoint the gateway does not have yet (being built). @param {unknown} error */
export const missingEndpoint = (error) => error instanceof ApiError && (error.status === 404 || error.status === 405)
  && (error.code === 'http_error' || error.code === 'not_found' || error.code === 'method_not_allowed');

export const initial = (text) => ([...(text || '?').trim()][0] || '?').toUpperCase();

/** A brand's round initial. @param {any} brand @param {string} [className] */
export const avatar = (brand, className = 'avatar') => el('span', {
  class: className, text: initial(brand.name ?? brand.handle), attrs: { 'aria-hidden': 'true' },
});

/** The small tick after a verified brand's name. */
export const verifiedMark = () => el('span', { class: 'verified', text: '✓', attrs: { title: 'Verified', 'aria-label': 'verified' } });
