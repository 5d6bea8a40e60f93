// Live events from the socket: new messages, conversation changes, reads and typing.

import { AuthError } from '/sdk/atdesk.js';
import { $, show, showAppError } from './dom.js';
import { renderInbox } from './inbox.js';
import { addNotice } from './notices.js';
import { ENDED_KEY, client, consumerRead, marksFor, merge, state } from './state.js';
import { addMessage, hideTyping, markThreadRead, openThread, renderMessages, renderSeen, renderThreadHead, TYPING_SHOWN_MS } from './thread.js';

export function listenToClient() {
  client.on('connected', () => {
    setConnection('connected', 'ok');
    refreshConversations().catch(() => {});
    // A thread opened while the gateway was unreachable shows an error and nothing else:
    // the messages that arrive now would not show either, so it loads again.
    if (state.thread?.failed) openThread(state.thread.id);
  });
  client.on('disconnected', () => setConnection('offline · reconnecting…', 'warn'));
  client.on('failed', (error) => {
    setConnection('signed out', 'bad');
    if (error instanceof AuthError && !state.signingOut) {
      // A stopped client cannot start again: a fresh page makes a fresh one.
      sessionStorage.setItem(ENDED_KEY, '1');
      location.reload();
    }
  });
  client.on('conversation', onConversation);
  client.on('message', onMessage);
  client.on('read', onRead);
  client.on('typing', onTyping);
  client.on('notice', addNotice);
}

export function setConnection(text, tone) {
  const element = $('#connection');
  element.textContent = text;
  element.dataset.tone = tone;
}

export async function refreshConversations() {
  try {
    const listed = await client.allConversations();
    for (const conversation of listed) merge(conversation);
    renderInbox();
    loadPreviews(listed);
  } catch (error) {
    if (!(error instanceof AuthError)) showAppError(error);
  }
}

/** The last message of each listed conversation, for the inbox's one-line preview. The
 * gateway's automatic answer (one per case, right after a consumer's message) says the
 * same in every thread: the message before it says more, so the last two are read. */
export async function loadPreviews(conversations) {
  const missing = conversations.filter((c) => c.last_seq > 0 && state.previewsUpTo.get(c.id) !== c.last_seq).slice(0, 60);
  await Promise.all(missing.map(async (c) => {
    try {
      const page = await client.messages(c.id, { afterSeq: Math.max(0, c.last_seq - 2), limit: 2 });
      for (const message of page.messages) updatePreview(message);
      state.previewsUpTo.set(c.id, c.last_seq);
    } catch {
      // A preview is a nicety.
    }
  }));
  renderInbox();
}

/** Keep `message` as its conversation's preview if it is newer, and a person's or the
 * first known. */
function updatePreview(message) {
  const id = message.conversation_id;
  const known = state.previews.get(id);
  const newer = (known?.seq ?? 0) < message.seq;
  if (newer && (!known || message.sender.role !== 'system')) state.previews.set(id, message);
  state.previewsUpTo.set(id, Math.max(state.previewsUpTo.get(id) ?? 0, message.seq));
}

export function onConversation(conversation) {
  const before = state.conversations.get(conversation.id);
  const merged = merge(conversation);
  if (before && merged.case > before.case) {
    marksFor(merged.id).set(merged.last_seq, `Case ${merged.case} opened`);
  } else if (before && before.status === 'open' && merged.status === 'resolved') {
    marksFor(merged.id).set(merged.last_seq + 0.5, `Case ${merged.case} resolved`);
  }
  renderInbox();
  if (state.thread?.id === merged.id) renderThreadHead();
  if (state.thread?.id === merged.id) renderMessages();
}


export async function onMessage(message) {
  const id = message.conversation_id;
  let conversation = state.conversations.get(id);
  if (!conversation) {
    try {
      conversation = merge(await client.conversation(id));
    } catch {
      return;
    }
  }
  if (message.seq > conversation.last_seq) {
    const mine = message.sender.id === state.me.id;
    const viewing = state.thread?.id === id;
    conversation = {
      ...conversation,
      last_seq: message.seq,
      last_message_at: message.created_at,
      unread: mine || viewing ? (viewing ? 0 : conversation.unread) : conversation.unread + 1,
    };
    state.conversations.set(id, conversation);
  }
  updatePreview(message);
  renderInbox();
  if (state.thread?.id === id) {
    addMessage(message);
    if (message.sender.id === conversation.consumer.id) hideTyping();
    markThreadRead();
  }
}

export function onRead({ conversation_id: id, account_id: accountId, seq }) {
  const conversation = state.conversations.get(id);
  if (!conversation) return;
  if (accountId === conversation.consumer.id) {
    if (seq > (consumerRead.get(id) ?? 0)) consumerRead.set(id, seq);
    if (state.thread?.id === id) renderSeen();
  } else if (accountId === state.me.id && conversation.unread) {
    // Read on another of my devices.
    const unread = Math.max(0, conversation.last_seq - seq);
    if (unread < conversation.unread) {
      state.conversations.set(id, { ...conversation, unread });
      renderInbox();
    }
  }
}

export function onTyping({ conversation_id: id, account_id: accountId }) {
  if (state.thread?.id !== id || accountId === state.me.id) return;
  const conversation = state.conversations.get(id);
  const typing = $('#typing');
  const who = accountId === conversation?.consumer.id ? conversation.consumer.display_name : 'A colleague';
  typing.textContent = `${who} is typing…`;
  show(typing, true);
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(hideTyping, TYPING_SHOWN_MS);
}

