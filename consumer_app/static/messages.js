// One chat bubble each: a person's message, atdesk's own words, or one of mine not sent yet.

import { el } from './dom.js';
import { isSystem } from './conversations.js';
import { when } from './format.js';
import { scheduleRender } from './router.js';
import { failedSends, state } from './state.js';

/** @param {any} message @param {{seen: boolean}} options */
export function messageItem(message, { seen }) {
  if (isSystem(message)) return systemItem(message);
  const role = message.sender?.role ?? 'agent';
  const mine = message.sender?.id === state.me?.id;
  const who = mine ? 'You' : message.sender?.display_name ?? 'Agent';
  const meta = `${when(message.created_at)}${seen ? ' · Seen' : ''}`;
  return el('li', {
    class: `message ${mine ? 'mine' : `theirs role-${role}`}`,
    attrs: { 'data-seq': String(message.seq), 'data-id': message.id ?? '', 'data-role': mine ? 'consumer' : role },
  }, [
    el('span', { class: 'message-sender', text: who }),
    el('p', { class: 'message-text', text: message.text }),
    el('span', { class: 'message-meta', text: meta }),
  ]);
}

/**
 * The gateway's own words (say, when a human will answer a closed desk): centred and muted,
 * signed by atdesk, never dressed as a person of the brand.
 * @param {any} message
 */
function systemItem(message) {
  return el('li', {
    class: 'message system role-system',
    attrs: { 'data-seq': String(message.seq), 'data-id': message.id ?? '', 'data-role': 'system' },
  }, [
    el('span', { class: 'message-sender', text: 'Automatic message from atdesk' }),
    el('p', { class: 'message-text', text: message.text }),
    el('span', { class: 'message-meta', text: when(message.created_at) }),
  ]);
}

/** @param {any} entry @param {string} sendState @param {string} [failedId] */
export function pendingItem(entry, sendState, failedId) {
  const item = el('li', {
    class: `message mine pending${failedId ? ' failed' : ''}`,
    attrs: { 'data-client-id': entry.client_id },
  }, [
    el('span', { class: 'message-sender', text: 'You' }),
    el('p', { class: 'message-text', text: entry.text }),
    el('span', { class: 'message-meta', text: sendState }),
  ]);
  if (failedId) {
    const dismiss = el('button', { class: 'link-button small', text: 'Dismiss', attrs: { type: 'button' } });
    dismiss.addEventListener('click', () => { failedSends.delete(failedId); scheduleRender(); });
    item.append(dismiss);
  }
  return item;
}
