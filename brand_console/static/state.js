// What the console knows: the SDK client, the signed-in account, the brands and the
// conversations seen so far. Every page module reads and updates this one object.

import { AtdeskClient } from '/sdk/atdesk.js';

export const BRAND_KEY = 'atdesk-console:brand';
export const ENDED_KEY = 'atdesk-console:ended';

export const client = new AtdeskClient(location.origin, { session: 'cookie', clientName: 'atdesk-console/0.1' });

export const state = {
  me: null, // {id, email, display_name, brands: [{handle, role}]}
  brands: new Map(), // handle -> public brand
  handle: null, // the brand picked
  conversations: new Map(), // id -> conversation (every brand of mine)
  previews: new Map(), // id -> the last message of a person known (atdesk's own only if none)
  previewsUpTo: new Map(), // id -> the seq up to which the preview was looked for
  filter: { status: 'open', assignee: 'all' },
  route: { name: 'inbox', id: null },
  members: new Map(), // handle -> [member]
  thread: null, // {id, messages: Map seq -> message, consumerRead: number, marks: Map seq -> label}
  pendingSends: 0,
  lastTypingSent: 0,
  typingTimer: null,
  signingOut: false,
};
// Per conversation, what was learnt live and cannot be read back: the consumer's read
// position and where a case began or ended.
export const consumerRead = new Map();
export const caseMarks = new Map(); // id -> Map(seq -> label shown before that seq)

export function role() {
  return state.me?.brands.find((b) => b.handle === state.handle)?.role ?? null;
}

export function canManage() {
  return role() === 'owner' || role() === 'admin';
}

export async function brandMembers(handle, { fresh = false } = {}) {
  if (!fresh && state.members.has(handle)) return state.members.get(handle);
  const members = await client.members(handle);
  state.members.set(handle, members);
  return members;
}

/** Keep the newest we know of a conversation; `last_seq` only grows. */
export function merge(conversation) {
  const known = state.conversations.get(conversation.id);
  if (known && known.last_seq > conversation.last_seq) {
    conversation = { ...conversation, last_seq: known.last_seq, last_message_at: known.last_message_at, unread: known.unread };
  }
  if (state.thread?.id === conversation.id) conversation = { ...conversation, unread: 0 };
  state.conversations.set(conversation.id, conversation);
  return conversation;
}


export function marksFor(id) {
  if (!caseMarks.has(id)) caseMarks.set(id, new Map());
  return caseMarks.get(id);
}
