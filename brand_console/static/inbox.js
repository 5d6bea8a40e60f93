// The inbox: the brand's conversations, filtered by status and assignee, newest first.

import { $, h, show, when } from './dom.js';
import { state } from './state.js';

export function visibleConversations() {
  const { status, assignee } = state.filter;
  return [...state.conversations.values()]
    .filter((c) => c.brand.handle === state.handle && c.status === status)
    .filter((c) => assignee === 'all' || (assignee === 'unassigned' ? !c.assignee : c.assignee?.id === state.me.id))
    .sort((a, b) => (b.last_message_at ?? '').localeCompare(a.last_message_at ?? '') || b.last_seq - a.last_seq);
}

export function renderInbox() {
  const list = $('#inbox');
  if (!list || !state.me) return;
  const conversations = visibleConversations();
  const focusedId = document.activeElement?.closest?.('.inbox-item')?.dataset.conversationId;
  list.replaceChildren(...conversations.map(inboxItem));
  show($('#inbox-empty'), conversations.length === 0);
  if (focusedId) list.querySelector(`.inbox-item[data-conversation-id="${CSS.escape(focusedId)}"]`)?.focus();
  for (const [id, filter, value] of [
    ['#filter-open', 'status', 'open'], ['#filter-resolved', 'status', 'resolved'],
    ['#filter-all-assignees', 'assignee', 'all'], ['#filter-unassigned', 'assignee', 'unassigned'],
    ['#filter-mine', 'assignee', 'mine'],
  ]) {
    $(id).setAttribute('aria-pressed', String(state.filter[filter] === value));
  }
  const open = [...state.conversations.values()].filter((c) => c.brand.handle === state.handle && c.status === 'open');
  const unread = open.reduce((sum, c) => sum + (c.unread > 0 ? 1 : 0), 0);
  document.title = unread ? `(${unread}) atdesk console` : 'atdesk console';
}

export function inboxItem(conversation) {
  const preview = state.previews.get(conversation.id);
  const current = state.thread?.id === conversation.id;
  const unread = h('span', { class: 'inbox-unread', 'aria-label': `${conversation.unread} unread` }, String(conversation.unread));
  unread.hidden = !(conversation.unread > 0);
  const assignee = conversation.assignee
    ? (conversation.assignee.id === state.me.id ? 'you' : conversation.assignee.display_name)
    : 'unassigned';
  return h('li', {},
    h('a', {
      class: `inbox-item${current ? ' current' : ''}${conversation.unread > 0 ? ' is-unread' : ''}`,
      href: `#/c/${encodeURIComponent(conversation.id)}`,
      dataset: { conversationId: conversation.id },
      'aria-current': current ? 'true' : null,
    },
    h('span', { class: 'inbox-line' },
      h('span', { class: 'inbox-consumer' }, conversation.consumer.display_name),
      h('time', { class: 'inbox-time', datetime: conversation.last_message_at }, when(conversation.last_message_at)),
    ),
    h('span', { class: 'inbox-preview' }, preview ? previewText(preview) : ' '),
    h('span', { class: 'inbox-line' },
      h('span', { class: `inbox-status status-${conversation.status}` }, conversation.status),
      h('span', { class: 'inbox-assignee muted' }, assignee),
      queueBadge(conversation),
      unread,
    )));
}

export function previewText(message) {
  const role = message.sender.role;
  const who = role === 'consumer' ? '' : message.sender.id === state.me.id ? 'You: ' : role === 'system' ? 'atdesk: ' : `${message.sender.display_name}: `;
  return who + message.text.replace(/\s+/g, ' ');
}

export function setFilter(kind, value) {
  state.filter[kind] = value;
  renderInbox();
}

/** The case's place in the brand's queue: the gateway keeps it on every conversation it
 * sends (list and events), and sends the cases behind one that leaves the queue. */
function queueBadge(conversation) {
  const position = conversation.queue_position;
  return position ? h('span', { class: 'inbox-queue', title: 'Place in the queue: nobody is assigned yet' }, `queue #${position}`) : '';
}
