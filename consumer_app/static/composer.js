// The message box of a chat: send on Enter, grow with the text, tell the brand I am typing.

import { $, explain, showError } from './dom.js';
import { chatTarget, keepAtBottom } from './chat.js';
import { refreshConversations, storeMessage } from './conversations.js';
import { go, scheduleRender } from './router.js';
import { conversations, failedSends, showing, state } from './state.js';

const TYPING_SEND_EVERY_MS = 3000;

let lastTypingSent = 0;

export async function onCompose(event) {
  event.preventDefault();
  const input = $('compose');
  const text = input.value;
  const client = state.client;
  if (!text.trim() || !client) return;
  const { conversation, handle } = chatTarget();
  if (!conversation && !handle) return;
  const target = conversation ? conversation.id : `@${handle}`;
  const clientId = crypto.randomUUID().replace(/-/g, '');
  let sending;
  try {
    sending = client.send(target, text, { clientId });
  } catch (error) {
    showError($('chat-error'), explain(error));
    return;
  }
  input.value = '';
  autosize();
  showError($('chat-error'), null);
  scheduleRender();
  requestAnimationFrame(keepAtBottom);
  try {
    const ack = await sending;
    const me = state.me;
    storeMessage({
      conversation_id: ack.conversation_id, seq: ack.seq, id: ack.id, client_id: ack.client_id,
      sender: { id: me?.id, role: 'consumer', display_name: me?.display_name }, text, created_at: ack.created_at,
    });
    if (!conversations.has(ack.conversation_id)) await refreshConversations();
    const known = conversations.get(ack.conversation_id);
    if (known && (known.last_seq ?? 0) < ack.seq) {
      known.last_seq = ack.seq;
      known.last_message_at = ack.created_at;
    }
    // The first message to a brand made the thread: the chat now lives at its id.
    if (showing('draft', handle)) go(`#/c/${encodeURIComponent(ack.conversation_id)}`, { replace: true });
    else scheduleRender();
  } catch (error) {
    if (error?.code === 'client_closed') return;
    const entry = conversation
      ? { client_id: clientId, text, conversation_id: conversation.id }
      : { client_id: clientId, text, to: `@${handle}` };
    failedSends.set(clientId, { entry, reason: explain(error) });
    scheduleRender();
  }
}

/** @param {KeyboardEvent} event */
export function onComposeKey(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
}

export function onComposeInput() {
  autosize();
  const { conversation } = chatTarget();
  const client = state.client;
  if (!conversation || !client || client.state !== 'connected') return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_SEND_EVERY_MS) return;
  lastTypingSent = now;
  try {
    client.typing(conversation.id);
  } catch {
    // stopped client
  }
}

function autosize() {
  const input = $('compose');
  input.rows = Math.min(5, Math.max(1, input.value.split('\n').length));
}
