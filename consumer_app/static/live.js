// Live events from the socket: new messages, conversation changes, reads, typing and
// rating requests. Each updates the state, then the view on screen is redrawn.

import { $ } from './dom.js';
import { keepAtBottom } from './chat.js';
import { isSystem, refreshConversations, storeMessage } from './conversations.js';
import { scheduleRender } from './router.js';
import { conversations, readBy, state, typingTimers, viewing } from './state.js';

const TYPING_SHOW_MS = 4000;

/** @param {any} message */
export function onMessage(message) {
  storeMessage(message);
  const conversation = conversations.get(message.conversation_id);
  const mine = message.sender?.id === state.me?.id;
  if (conversation) {
    conversation.last_seq = Math.max(conversation.last_seq ?? 0, message.seq);
    conversation.last_message_at = message.created_at;
    if (!mine && !viewing(message.conversation_id)) conversation.unread = (conversation.unread ?? 0) + 1;
  } else {
    refreshConversations(); // a thread we did not know: list again
  }
  if (!mine && !isSystem(message)) hideTyping(message.conversation_id);
  // The list is redrawn whole, so it is not a live region: say only what is new.
  if (!mine && viewing(message.conversation_id)) {
    const who = isSystem(message) ? 'Automatic message from atdesk' : message.sender?.display_name ?? 'Agent';
    $('announce').textContent = `${who}: ${message.text}`;
  }
  scheduleRender();
}

/** @param {any} conversation */
export function onConversation(conversation) {
  const known = conversations.get(conversation.id);
  conversations.set(conversation.id, {
    ...known,
    ...conversation,
    unread: conversation.unread ?? known?.unread ?? 0,
    // Absent from an event: not in the queue (any more), nothing resolved yet.
    queue_position: conversation.queue_position ?? null,
    rating: conversation.rating ?? null,
  });
  scheduleRender();
}

/** @param {{conversation_id: string, account_id: string, seq: number}} read */
export function onRead(read) {
  if (read.account_id === state.me?.id) {
    const conversation = conversations.get(read.conversation_id);
    // Read on another device of mine.
    if (conversation && read.seq >= (conversation.last_seq ?? 0)) conversation.unread = 0;
  } else {
    readBy.set(read.conversation_id, Math.max(readBy.get(read.conversation_id) ?? 0, read.seq));
  }
  scheduleRender();
}

/** @param {{conversation_id: string, account_id: string}} typing */
export function onTyping(typing) {
  if (typing.account_id === state.me?.id || !viewing(typing.conversation_id)) return;
  const conversation = conversations.get(typing.conversation_id);
  const node = $('typing');
  node.textContent = `${conversation?.brand?.name ?? 'The brand'} is typing…`;
  node.hidden = false;
  clearTimeout(typingTimers.get(typing.conversation_id));
  typingTimers.set(typing.conversation_id, setTimeout(() => hideTyping(typing.conversation_id), TYPING_SHOW_MS));
  keepAtBottom();
}

/** @param {string} [conversationId] */
export function hideTyping(conversationId) {
  if (conversationId) {
    clearTimeout(typingTimers.get(conversationId));
    typingTimers.delete(conversationId);
  }
  $('typing').hidden = true;
}

/** @param {{conversation_id: string, case: number}} request */
export function onRatingRequest(request) {
  // The conversation event that comes with it says the same; this one may arrive first.
  const conversation = conversations.get(request.conversation_id);
  if (conversation && conversation.case === request.case && (conversation.rating?.case ?? 0) < request.case) {
    conversation.status = 'resolved';
    conversation.rating = { case: request.case, score: null };
  }
  scheduleRender();
}
