// The conversation list and the messages kept of each: fetching, merging, looking up.

import { AuthError } from '/sdk/atdesk.js';
import { $, explain, showError } from './dom.js';
import { scheduleRender } from './router.js';
import { onFailed } from './session.js';
import { conversations, messagesOf, previews, state } from './state.js';

export async function refreshConversations() {
  if (!state.client) return;
  try {
    const listed = await state.client.allConversations();
    // Each carries its queue position and rating state, as the socket's events do.
    for (const conversation of listed) conversations.set(conversation.id, conversation);
    showError($('threads-error'), null);
    loadPreviews(listed.slice(0, 30));
  } catch (error) {
    if (error instanceof AuthError) return onFailed(error);
    if (!conversations.size) showError($('threads-error'), explain(error));
  }
  scheduleRender();
}

/** The latest message of each thread, for its line in the list. @param {any[]} listed */
async function loadPreviews(listed) {
  await Promise.all(listed.map(async (conversation) => {
    if (!conversation.last_seq || previews.get(conversation.id)?.seq >= conversation.last_seq) return;
    try {
      const page = await state.client?.messages(conversation.id, { afterSeq: conversation.last_seq - 1, limit: 1 });
      const latest = page?.messages.at(-1);
      if (latest) notePreview(latest);
    } catch {
      // a preview is a nicety
    }
  }));
  scheduleRender();
}

/** @param {any} message */
function notePreview(message) {
  const known = previews.get(message.conversation_id);
  if (!known || known.seq < message.seq) previews.set(message.conversation_id, message);
}

/** @param {any} message */
export function storeMessage(message) {
  let messages = messagesOf.get(message.conversation_id);
  if (!messages) messagesOf.set(message.conversation_id, (messages = new Map()));
  messages.set(message.seq, message);
  notePreview(message);
}

export const sortedConversations = () => [...conversations.values()].sort(
  (a, b) => String(b.last_message_at ?? '').localeCompare(String(a.last_message_at ?? '')),
);

/** @param {string} handle */
export const conversationWith = (handle) => sortedConversations().find((c) => c.brand?.handle === handle);

/** @param {any} message */
export const isSystem = (message) => message?.sender?.role === 'system';

/** Is this case waiting for an agent? @param {any} conversation */
export const queued = (conversation) => conversation?.status === 'open' && !conversation.assignee;
