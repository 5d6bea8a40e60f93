// What the app knows: the signed-in account and its client, the conversations, messages
// and brands seen so far, and the route on screen. Every module reads and updates these.

import { AtdeskClient } from '/sdk/atdesk.js';

export const CLIENT_NAME = 'atdesk-app/0.1';

export const state = {
  /** @type {AtdeskClient|null} */
  client: null,
  /** @type {{id: string, email: string, display_name: string, following?: string[]}|null} */
  me: null,
  followed: new Set(), // handles of the brands I follow (GET /v1/me, any device)
  signingOut: false,
  route: { name: 'loading', arg: '' },
};

export const conversations = new Map(); // id -> conversation
export const messagesOf = new Map(); // id -> Map<seq, message>
export const loadedHistory = new Set(); // conversation ids whose history is loaded
export const previews = new Map(); // id -> latest message
export const failedSends = new Map(); // client_id -> {entry, reason}
export const readBy = new Map(); // conversation id -> highest seq read by the brand side
export const typingTimers = new Map(); // conversation id -> timeout
export const ratedHere = new Set(); // `${conversation id}:${case}` rated from this page
export const brands = new Map(); // handle -> brand (cache)

/** Signed out: forget the account and everything learnt under it (the brand cache stays). */
export function forgetAccount() {
  state.client = null;
  state.me = null;
  for (const map of [conversations, messagesOf, previews, failedSends, readBy]) map.clear();
  loadedHistory.clear();
  ratedHere.clear();
  state.followed = new Set();
  for (const timer of typingTimers.values()) clearTimeout(timer);
  typingTimers.clear();
}

/** A client for account calls only: no socket, nothing stored. */
export function accountClient() {
  return new AtdeskClient(location.origin, { session: 'cookie', clientName: CLIENT_NAME, storage: null });
}

/** Is this route on screen? @param {string} name @param {string} arg */
export const showing = (name, arg) => state.route.name === name && state.route.arg === arg;

/** Is this conversation on screen, in a visible tab? @param {string} conversationId */
export function viewing(conversationId) {
  return showing('chat', conversationId) && document.visibilityState === 'visible';
}

// --- this device's choices, per account ---------------------------------------------------------

function storageKey(what) {
  return `atdesk-app:${what}:${state.me?.id ?? 'anon'}`;
}

/** @param {string} what @returns {Set<string>} */
export function loadSet(what) {
  try {
    return new Set(JSON.parse(localStorage.getItem(storageKey(what)) ?? '[]'));
  } catch {
    return new Set();
  }
}

/** @param {string} what @param {string} key */
export function remember(what, key) {
  const set = loadSet(what);
  set.add(key);
  try {
    localStorage.setItem(storageKey(what), JSON.stringify([...set]));
  } catch {
    // storage full or blocked: only a convenience is lost
  }
}
