// One conversation: its whole history across cases, the reply box, assign and resolve.

import { ApiError } from '/sdk/atdesk.js';
import { $, h, show, showError, describe, when } from './dom.js';
import { renderInbox } from './inbox.js';
import { brandMembers, caseMarks, client, consumerRead, merge, state } from './state.js';
import { onConversation } from './live.js';
import { cannedPickerKey, closePicker, preloadCanned } from './canned.js';

export const TYPING_SHOWN_MS = 4000;
const TYPING_EVERY_MS = 2500;

export function hideTyping() {
  clearTimeout(state.typingTimer);
  show($('#typing'), false);
}

export async function openThread(id) {
  closeThread();
  state.thread = { id, messages: new Map(), loading: true };
  show($('#thread-placeholder'), false);
  show($('#thread'), true);
  showError($('#thread-error'), null);
  $('#messages').replaceChildren(h('li', { class: 'muted loading' }, 'Loading…'));
  $('#reply').value = '';
  try {
    const conversation = merge(await client.conversation(id));
    if (state.thread?.id !== id) return;
    if (conversation.brand.handle !== state.handle && state.me.brands.some((b) => b.handle === conversation.brand.handle)) {
      state.handle = conversation.brand.handle;
      $('#brand-picker').value = state.handle;
    }
    renderThreadHead();
    preloadCanned();
    const [history] = await Promise.all([
      client.history(id),
      fillAssignees(conversation.brand.handle),
    ]);
    if (state.thread?.id !== id) return;
    state.thread.loading = false;
    for (const message of history) state.thread.messages.set(message.seq, message);
    renderMessages();
    renderThreadHead();
    markThreadRead();
    renderInbox();
  } catch (error) {
    if (state.thread?.id !== id) return;
    state.thread.failed = true; // loaded again once the connection is back (live.js)
    $('#messages').replaceChildren();
    showError($('#thread-error'), error instanceof ApiError && error.status === 404 ? 'This conversation does not exist, or is not yours to read.' : error);
  }
}

export function closeThread() {
  state.thread = null;
  closePicker();
  hideTyping();
  show($('#thread'), false);
  show($('#thread-placeholder'), true);
}

export async function fillAssignees(handle) {
  const select = $('#assign-select');
  let members = [];
  try {
    members = await brandMembers(handle);
  } catch {
    // Shown as a short list: unassigned, and whoever is assigned now.
  }
  const options = [h('option', { value: '' }, 'unassigned')];
  for (const member of members) {
    const label = member.account_id === state.me.id ? `${member.display_name} (you)` : member.display_name;
    options.push(h('option', { value: member.account_id }, `${label} · ${member.role}`));
  }
  select.replaceChildren(...options);
  renderThreadHead();
}

export function renderThreadHead() {
  const thread = state.thread;
  if (!thread) return;
  const conversation = state.conversations.get(thread.id);
  if (!conversation) return;
  $('#thread-consumer').textContent = conversation.consumer.display_name;
  const status = $('#thread-status');
  status.textContent = conversation.status;
  status.className = `status-pill status-${conversation.status}`;
  $('#thread-case').textContent = `case ${conversation.case}`;
  const select = $('#assign-select');
  const assigneeId = conversation.assignee?.id ?? '';
  if (assigneeId && ![...select.options].some((o) => o.value === assigneeId)) {
    select.append(h('option', { value: assigneeId }, conversation.assignee.display_name));
  }
  select.value = assigneeId;
  const mine = assigneeId === state.me.id;
  $('#assign-me').disabled = mine;
  $('#assign-me').textContent = mine ? 'Assigned to you' : 'Assign to me';
  $('#resolve').disabled = conversation.status === 'resolved';
  $('#resolve').textContent = conversation.status === 'resolved' ? 'Resolved' : 'Resolve';
}

export function renderMessages() {
  const thread = state.thread;
  if (!thread || thread.loading) return;
  const list = $('#messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const marks = caseMarks.get(thread.id) ?? new Map();
  const items = [];
  const seqs = [...thread.messages.keys()].sort((a, b) => a - b);
  const markSeqs = [...marks.keys()].sort((a, b) => a - b);
  let m = 0;
  for (const seq of seqs) {
    while (m < markSeqs.length && markSeqs[m] <= seq) {
      if (markSeqs[m] === seq || markSeqs[m] < seq) items.push(divider(marks.get(markSeqs[m])));
      m += 1;
    }
    items.push(messageItem(thread.messages.get(seq)));
  }
  while (m < markSeqs.length) items.push(divider(marks.get(markSeqs[m++])));
  if (!seqs.length) items.push(h('li', { class: 'muted empty' }, 'No messages yet.'));
  list.replaceChildren(...items);
  renderSeen();
  if (nearBottom || !thread.scrolled) {
    list.scrollTop = list.scrollHeight;
    thread.scrolled = true;
  }
}

export function divider(label) {
  return h('li', { class: 'case-divider', role: 'separator' }, h('span', {}, label));
}

export function messageItem(message) {
  const role = message.sender.role;
  const mine = message.sender.id === state.me.id;
  return h('li', {
    class: `message from-${role}${mine ? ' mine' : ''}`,
    dataset: { seq: String(message.seq), senderRole: role },
  },
  h('div', { class: 'message-meta' },
    h('span', { class: 'message-sender' }, role === 'system' ? 'atdesk' : message.sender.display_name),
    h('time', { class: 'message-time', datetime: message.created_at }, when(message.created_at)),
  ),
  h('p', { class: 'message-text' }, message.text),
  );
}

export function addMessage(message) {
  const thread = state.thread;
  if (!thread || thread.messages.has(message.seq)) return;
  thread.messages.set(message.seq, message);
  renderMessages();
}

/** "Seen" on the brand's last message the consumer has read. */
export function renderSeen() {
  const thread = state.thread;
  if (!thread) return;
  for (const old of document.querySelectorAll('#messages .message-seen')) old.remove();
  const readSeq = consumerRead.get(thread.id) ?? 0;
  if (!readSeq) return;
  const ours = [...thread.messages.values()]
    .filter((m) => m.sender.role === 'agent' && m.seq <= readSeq)
    .sort((a, b) => b.seq - a.seq)[0];
  if (!ours) return;
  const item = document.querySelector(`#messages .message[data-seq="${ours.seq}"]`);
  item?.append(h('span', { class: 'message-seen' }, '✓ Seen'));
}

export function markThreadRead() {
  const thread = state.thread;
  if (!thread || document.visibilityState === 'hidden') return;
  const conversation = state.conversations.get(thread.id);
  const last = Math.max(conversation?.last_seq ?? 0, ...thread.messages.keys());
  if (last > 0 && last > (thread.readSent ?? 0)) {
    thread.readSent = last;
    try {
      client.markRead(thread.id, last);
    } catch {
      // Offline or stopped: the next view marks it.
    }
  }
  if (conversation && conversation.unread) {
    state.conversations.set(thread.id, { ...conversation, unread: 0 });
    renderInbox();
  }
}

export async function sendReply(event) {
  event?.preventDefault();
  const thread = state.thread;
  const box = $('#reply');
  const text = box.value;
  if (!thread || !text.trim()) return;
  box.value = '';
  const id = thread.id;
  const pending = h('li', { class: 'message from-agent mine pending' },
    h('div', { class: 'message-meta' }, h('span', { class: 'message-sender' }, state.me.display_name), h('span', { class: 'message-time' }, 'sending…')),
    h('p', { class: 'message-text' }, text));
  $('#messages').append(pending);
  $('#messages').scrollTop = $('#messages').scrollHeight;
  try {
    const ack = await client.send(id, text);
    pending.remove();
    if (state.thread?.id === id && !state.thread.messages.has(ack.seq)) {
      addMessage({
        conversation_id: id, seq: ack.seq, id: ack.id, client_id: ack.client_id, text,
        created_at: ack.created_at, sender: { id: state.me.id, role: 'agent', display_name: state.me.display_name },
      });
    }
  } catch (error) {
    pending.remove();
    if (state.thread?.id === id) {
      showError($('#thread-error'), `Not sent: ${describe(error)}`);
      if (!box.value) box.value = text;
    }
  }
}

export function onReplyKey(event) {
  if (cannedPickerKey(event)) return;
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendReply();
  }
}

export function onReplyInput() {
  const thread = state.thread;
  if (!thread || !$('#reply').value.trim()) return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_EVERY_MS) return;
  state.lastTypingSent = now;
  try {
    client.typing(thread.id);
  } catch {
    // Typing is best effort.
  }
}

export async function act(button, work) {
  const thread = state.thread;
  if (!thread) return;
  showError($('#thread-error'), null);
  button.disabled = true;
  try {
    const conversation = await work(thread.id);
    onConversation(conversation);
  } catch (error) {
    showError($('#thread-error'), error);
  } finally {
    renderThreadHead();
  }
}

export function assignToMe() {
  act($('#assign-me'), (id) => client.assign(id, state.me.id));
}

export function assignToSelected() {
  const value = $('#assign-select').value || null;
  act($('#assign-select'), (id) => client.assign(id, value)).then(() => {
    $('#assign-select').disabled = false;
  });
}

export function resolveThread() {
  const estimate = $('#estimate').value;
  act($('#resolve'), (id) => client.resolve(id, estimate ? { agentEstimate: Number(estimate) } : {})).then(() => {
    $('#estimate').value = '';
  });
}
