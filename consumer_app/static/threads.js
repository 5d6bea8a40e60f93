// The thread list: one line per conversation, newest first, with its latest message.

import { $, avatar, el, verifiedMark } from './dom.js';
import { isSystem, sortedConversations } from './conversations.js';
import { when } from './format.js';
import { showView } from './router.js';
import { previews, state } from './state.js';

export function openThreads() {
  showView('view-threads', 'atdesk');
  renderThreads();
}

export function renderThreads() {
  const list = $('threads');
  const items = sortedConversations().map((conversation) => {
    const brand = conversation.brand ?? {};
    const preview = previews.get(conversation.id);
    const unread = conversation.unread ?? 0;
    const previewText = preview
      ? `${preview.sender?.id === state.me?.id ? 'You: ' : isSystem(preview) ? 'atdesk: ' : ''}${preview.text}`
      : 'No messages yet';
    const link = el('a', {
      class: `thread${unread ? ' has-unread' : ''}`,
      attrs: { href: `#/c/${encodeURIComponent(conversation.id)}`, 'data-conversation-id': conversation.id },
    }, [
      avatar(brand),
      el('span', { class: 'thread-main' }, [
        el('span', { class: 'thread-top' }, [
          el('span', { class: 'thread-brand' }, [
            el('span', { class: 'thread-brand-name', text: brand.name ?? `@${brand.handle}` }),
            brand.verified && verifiedMark(),
            el('span', { class: 'thread-handle', text: ` @${brand.handle}` }),
          ]),
          el('span', { class: 'thread-time', text: when(conversation.last_message_at) }),
        ]),
        el('span', { class: 'thread-bottom' }, [
          el('span', { class: 'thread-preview', text: previewText }),
          el('span', { class: `thread-status status-${conversation.status}`, text: conversation.status }),
          el('span', {
            class: 'thread-unread', text: String(unread),
            attrs: { 'aria-label': `${unread} unread` },
          }),
        ]),
      ]),
    ]);
    link.querySelector('.thread-unread').hidden = !unread;
    return el('li', {}, [link]);
  });
  list.replaceChildren(...items);
  $('threads-empty').hidden = items.length > 0;
}
