// The chat view: a conversation with a brand (#/c/<id>), or a new one before its first
// message (#/to/<handle>). Its header, queue line, bubbles, intro card and read marks.

import { AuthError, normalizeHandle } from '/sdk/atdesk.js';
import { $, avatar, el, explain, initial, showError, verifiedMark } from './dom.js';
import { conversationWith, queued, refreshConversations, storeMessage } from './conversations.js';
import { handleLine, speedLine } from './format.js';
import { deskState } from './hours.js';
import { messageItem, pendingItem } from './messages.js';
import { loadBrand } from './profile.js';
import { renderRating } from './rating.js';
import { go, scheduleRender, showView } from './router.js';
import { onFailed } from './session.js';
import {
  brands, conversations, failedSends, loadedHistory, messagesOf, readBy, showing, state, viewing,
} from './state.js';

// The chat whose earlier messages could not load (the gateway unreachable): they load when
// the connection is back, and the error goes.
let historyFailed = null;

/** @param {string} conversationId */
export async function openChat(conversationId) {
  showView('chat', 'Chat');
  showError($('chat-error'), null);
  $('rating-thanks').hidden = true;
  if (!conversations.has(conversationId)) await refreshConversations();
  if (!showing('chat', conversationId)) return;
  const conversation = conversations.get(conversationId);
  if (!conversation) {
    showError($('chat-error'), 'This conversation was not found.');
    $('messages').replaceChildren();
    return;
  }
  renderChat();
  keepAtBottom();
  focusCompose();
  loadBrand(conversation.brand.handle).then(() => scheduleRender());
  if (!loadedHistory.has(conversationId)) {
    try {
      for (const message of await state.client.history(conversationId)) storeMessage(message);
      loadedHistory.add(conversationId);
    } catch (error) {
      if (error instanceof AuthError) return onFailed(error);
      historyFailed = conversationId;
      showError($('chat-error'), `Could not load earlier messages: ${explain(error)}`);
    }
    if (showing('chat', conversationId)) {
      renderChat();
      keepAtBottom();
    }
  }
}

/** Connected again: the chat on screen whose history failed to load, loaded now. */
export function retryFailedHistory() {
  const conversationId = historyFailed;
  historyFailed = null;
  if (conversationId !== null && showing('chat', conversationId)) openChat(conversationId);
}

/** A new chat with a brand, before its first message. @param {string} handle */
export async function openDraft(handle) {
  const existing = conversationWith(handle);
  if (existing) {
    go(`#/c/${encodeURIComponent(existing.id)}`, { replace: true });
    return;
  }
  showView('chat', `@${handle}`);
  showError($('chat-error'), null);
  $('rating-thanks').hidden = true;
  renderChat();
  focusCompose();
  const brand = await loadBrand(handle);
  if (!showing('draft', handle)) return;
  if (!brand) showError($('chat-error'), `There is no brand @${handle}.`);
  renderChat();
}

function focusCompose() {
  // On a phone, opening the keyboard on every navigation is intrusive; on a desktop it helps.
  if (matchMedia('(hover: hover) and (pointer: fine)').matches) $('compose').focus();
}

/** The brand of the chat on screen, and its conversation (null for a new chat). */
export function chatTarget() {
  const route = state.route;
  if (route.name === 'chat') {
    const conversation = conversations.get(route.arg) ?? null;
    return { conversation, handle: conversation?.brand?.handle ?? null };
  }
  return { conversation: null, handle: route.arg };
}

/** Is this outbox entry one of the chat on screen? @param {any} entry @param {ReturnType<typeof chatTarget>} target */
const isHere = (entry, { conversation, handle }) => (conversation && entry.conversation_id === conversation.id)
  || (handle && entry.to && normalizeHandle(entry.to) === handle);

export function renderChat() {
  const target = chatTarget();
  const { conversation, handle } = target;
  const brand = conversation?.brand ?? brands.get(handle) ?? { handle, name: handle ? `@${handle}` : '' };
  $('chat-brand-name').replaceChildren(
    el('span', { text: brand.name ?? `@${brand.handle}` }),
    brand.verified ? verifiedMark() : '',
  );
  const known = brands.get(brand.handle) ?? brand;
  const desk = known.hours ? deskState(known.hours) : null;
  $('chat-brand-sub').textContent = `${handleLine(known)}${desk ? ` · ${desk.open ? 'open' : 'closed'} now` : ''}`;
  $('chat-avatar').textContent = initial(brand.name ?? brand.handle);
  $('chat-brand').href = `#/b/${encodeURIComponent(brand.handle ?? '')}`;
  const status = $('chat-status');
  status.textContent = conversation?.status ?? '';
  status.className = `status-pill status-${conversation?.status ?? 'new'}`;
  status.hidden = !conversation;
  renderQueue(conversation);

  const scroller = $('chat-scroll');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const messages = conversation ? [...(messagesOf.get(conversation.id)?.values() ?? [])].sort((a, b) => a.seq - b.seq) : [];
  const seenUpTo = conversation ? readBy.get(conversation.id) ?? 0 : 0;
  const lastMine = [...messages].reverse().find((m) => m.sender?.id === state.me?.id);
  const items = messages.map((message) => messageItem(message, {
    seen: message === lastMine && seenUpTo >= message.seq,
  }));
  const client = state.client;
  const online = client?.state === 'connected';
  const pending = client ? client.pending().filter((entry) => isHere(entry, target)) : [];
  for (const entry of pending) items.push(pendingItem(entry, online ? 'sending…' : 'sending… (waiting for connection)'));
  for (const [clientId, failed] of failedSends) {
    if (isHere(failed.entry, target)) items.push(pendingItem(failed.entry, `not sent: ${failed.reason}`, clientId));
  }
  $('messages').replaceChildren(...items);
  $('chat-intro').hidden = messages.length > 0 || items.length > 0;
  if (!$('chat-intro').hidden) renderIntro(brand);
  renderRating(conversation, brand);
  if (atBottom) keepAtBottom();
  if (conversation) markSeen(conversation, messages);
}

/**
 * "You are #3 in line" while the case waits in the brand's queue (the gateway's
 * `queue_position`, 1 = next); gone once an agent has it or the case is resolved.
 * @param {any} conversation
 */
function renderQueue(conversation) {
  const node = $('queue-position');
  const position = queued(conversation) ? conversation.queue_position : null;
  const waiting = Number.isInteger(position) && position >= 1;
  node.hidden = !waiting;
  node.textContent = waiting ? `You are #${position} in line${position === 1 ? ' · you are next' : ''}` : '';
}

/** The card shown before the first message. @param {any} brand */
function renderIntro(brand) {
  const cached = brands.get(brand.handle);
  $('chat-intro').replaceChildren(
    avatar(brand, 'avatar avatar-large'),
    el('p', { class: 'intro-name', text: brand.name ?? `@${brand.handle}` }),
    el('p', { class: 'muted small', text: cached ? speedLine(cached.service) : `@${brand.handle}` }),
    el('p', { class: 'muted small', text: 'Your conversation is private: only you and the brand\'s service team see it.' }),
    el('a', { class: 'link-button small', text: 'View profile', attrs: { href: `#/b/${encodeURIComponent(brand.handle)}` } }),
  );
}

export function keepAtBottom() {
  const scroller = $('chat-scroll');
  scroller.scrollTop = scroller.scrollHeight;
}

/** Tell the brand what was read, when the chat is on screen. @param {any} conversation @param {any[]} messages */
function markSeen(conversation, messages) {
  if (!viewing(conversation.id) || !state.client) return;
  const latest = messages.at(-1)?.seq ?? 0;
  const already = conversation._readSent ?? 0;
  if (latest > already && latest > 0) {
    try {
      state.client.markRead(conversation.id, latest);
      conversation._readSent = latest;
    } catch {
      // the client stopped; 'failed' handles it
    }
  }
  if (conversation.unread) conversation.unread = 0;
}
