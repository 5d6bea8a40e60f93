// The atdesk consumer app: a small mobile-first client on the JavaScript SDK.
//
// One page, hash routes (#/threads, #/new, #/c/<id>, #/to/<handle>, #/b/<handle>), no build
// step. The page's CSP allows no inline script or style, and message text only ever goes
// into the page through textContent: nothing typed by anyone is parsed as HTML.

import { AtdeskClient, ApiError, AuthError, Backoff, NetworkError, normalizeHandle } from '/sdk/atdesk.js';

const CLIENT_NAME = 'atdesk-app/0.1';
const SEARCH_DELAY_MS = 180;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 4000;

// --- tiny DOM helpers -----------------------------------------------------------------------

/** @param {string} id @returns {any} */
const $ = (id) => document.getElementById(id);

/**
 * An element with text (never HTML), classes, attributes and children.
 * @param {string} tag
 * @param {{class?: string, text?: string, attrs?: Record<string, string>}} [options]
 * @param {Array<Node|null|false|undefined>} [children]
 */
function el(tag, { class: className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

/** @param {HTMLElement} node @param {string|null} message */
function showError(node, message) {
  node.textContent = message ?? '';
  node.hidden = !message;
}

/** What to tell a person about a failed call. @param {unknown} error */
function explain(error) {
  if (error instanceof NetworkError) return 'Cannot reach atdesk right now. Check your connection and try again.';
  if (error instanceof ApiError) {
    if (error.code === 'rate_limited') return 'Too many attempts. Please wait a moment and try again.';
    return error.detail || `Something went wrong (${error.code}).`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** An endpoint the gateway does not have yet (being built). @param {unknown} error */
const missingEndpoint = (error) => error instanceof ApiError && (error.status === 404 || error.status === 405)
  && (error.code === 'http_error' || error.code === 'not_found' || error.code === 'method_not_allowed');

const initial = (text) => ([...(text || '?').trim()][0] || '?').toUpperCase();

// --- formatting -----------------------------------------------------------------------------

/** "~7 min" for a median first response in seconds. @param {number} seconds */
function duration(seconds) {
  if (seconds < 90) return '~1 min';
  if (seconds < 3600) return `~${Math.round(seconds / 60)} min`;
  if (seconds < 86400 * 1.5) {
    const hours = Math.round(seconds / 360) / 10;
    return `~${hours % 1 ? hours.toFixed(1) : hours} h`;
  }
  return `~${Math.round(seconds / 86400)} days`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** A short time for a list or a bubble. @param {string|null|undefined} iso */
function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const now = new Date();
  if (date.toDateString() === now.toDateString()) return timeFormat.format(date);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (date.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return dayFormat.format(date);
}

/** The first line of what a person sees of a brand's speed. @param {any} service */
function speedLine(service) {
  const median = service?.median_first_response_s;
  return typeof median === 'number' ? `Usually answers in ${duration(median)}` : 'Response time: not enough data yet';
}

/** "@acme", with the brand's speed when it is known. @param {any} brand */
function handleLine(brand) {
  const median = brand?.service?.median_first_response_s;
  return `@${brand?.handle ?? ''}${typeof median === 'number' ? ` · usually answers in ${duration(median)}` : ''}`;
}

// --- state ----------------------------------------------------------------------------------

/** @type {AtdeskClient|null} */
let client = null;
/** @type {{id: string, email: string, display_name: string, following?: string[]}|null} */
let me = null;
let followed = new Set(); // handles of the brands I follow (GET /v1/me, any device)
let signingOut = false;
const stopListening = [];

const conversations = new Map(); // id -> conversation
const messagesOf = new Map(); // id -> Map<seq, message>
const loadedHistory = new Set(); // conversation ids whose history is loaded
const previews = new Map(); // id -> latest message
const failedSends = new Map(); // client_id -> {entry, reason}
const readBy = new Map(); // conversation id -> highest seq read by the brand side
const typingTimers = new Map(); // conversation id -> timeout
const ratedHere = new Set(); // `${conversation id}:${case}` rated from this page
const brands = new Map(); // handle -> brand (cache)
let lastTypingSent = 0;
let route = { name: 'loading', arg: '' };
let renderQueued = false;

function storageKey(what) {
  return `atdesk-app:${what}:${me?.id ?? 'anon'}`;
}

function loadSet(what) {
  try {
    return new Set(JSON.parse(localStorage.getItem(storageKey(what)) ?? '[]'));
  } catch {
    return new Set();
  }
}

function saveSet(what, set) {
  try {
    localStorage.setItem(storageKey(what), JSON.stringify([...set]));
  } catch {
    // storage full or blocked: only a convenience is lost
  }
}

// --- routing --------------------------------------------------------------------------------

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const arg = decodeURIComponent(parts.slice(1).join('/'));
  switch (parts[0]) {
    case 'new': return { name: 'new', arg: '' };
    case 'c': return arg ? { name: 'chat', arg } : { name: 'threads', arg: '' };
    case 'to': return arg ? { name: 'draft', arg: normalizeHandle(arg) } : { name: 'new', arg: '' };
    case 'b': return arg ? { name: 'brand', arg: normalizeHandle(arg) } : { name: 'threads', arg: '' };
    default: return { name: 'threads', arg: '' };
  }
}

/** @param {string} hash @param {{replace?: boolean}} [options] */
function go(hash, { replace = false } = {}) {
  if (location.hash === hash) {
    onRoute();
  } else if (replace) {
    history.replaceState(null, '', hash);
    onRoute();
  } else {
    location.hash = hash;
  }
}

const VIEWS = ['view-loading', 'view-signin', 'view-signup', 'view-threads', 'view-new', 'chat', 'brand-profile'];

/** @param {string} id @param {string} title */
function showView(id, title) {
  for (const view of VIEWS) $(view).hidden = view !== id;
  $('main').classList.toggle('main-chat', id === 'chat');
  $('title').textContent = title;
  $('back').hidden = !['view-new', 'chat', 'brand-profile'].includes(id);
}

function onRoute() {
  if (!me) return; // signed out: the sign-in view stays
  route = parseRoute();
  hideTyping();
  switch (route.name) {
    case 'new': openNew(); break;
    case 'chat': openChat(route.arg); break;
    case 'draft': openDraft(route.arg); break;
    case 'brand': openBrand(route.arg); break;
    default: openThreads();
  }
}

// --- sign in, sign up, sign out -------------------------------------------------------------

/** A client for account calls only: no socket, nothing stored. */
function accountClient() {
  return new AtdeskClient(location.origin, { session: 'cookie', clientName: CLIENT_NAME, storage: null });
}

function showSignIn(message = null) {
  showView('view-signin', 'atdesk');
  setConnection('signed-out');
  showError($('signin-error'), message);
  $('signin-email').focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const email = $('signin-email').value.trim();
  const password = $('signin-password').value;
  if (!email || !password) {
    showError($('signin-error'), 'Enter your email and password.');
    return;
  }
  await busy($('signin-submit'), async () => {
    try {
      await accountClient().signIn(email, password);
      $('signin-password').value = '';
      showError($('signin-error'), null);
      await start();
    } catch (error) {
      showError($('signin-error'), error instanceof AuthError ? 'Wrong email or password.' : explain(error));
    }
  });
}

async function onSignUp(event) {
  event.preventDefault();
  const name = $('signup-name').value.trim();
  const email = $('signup-email').value.trim();
  const password = $('signup-password').value;
  if (!name || !email || password.length < 8) {
    showError($('signup-error'), 'Enter your name, your email and a password of at least 8 characters.');
    return;
  }
  await busy($('signup-submit'), async () => {
    const accounts = accountClient();
    try {
      await accounts.signUp(email, password, name);
    } catch (error) {
      const taken = error instanceof ApiError && error.code === 'email_taken';
      showError($('signup-error'), taken ? 'That email already has an account: sign in instead.' : explain(error));
      return;
    }
    try {
      await accounts.signIn(email, password);
      $('signup-password').value = '';
      showError($('signup-error'), null);
      await start();
    } catch (error) {
      showError($('signup-error'), `Your account was created, but signing in failed: ${explain(error)}`);
    }
  });
}

async function onSignOut() {
  signingOut = true;
  try {
    await client?.signOut();
  } catch (error) {
    if (!(error instanceof AuthError)) {
      signingOut = false;
      showError($('threads-error'), `Could not sign out: ${explain(error)}`);
      return;
    }
  }
  await stop();
  signingOut = false;
  history.replaceState(null, '', '#/threads');
  showSignIn();
}

/** Disable a button while its action runs. @param {HTMLButtonElement} button @param {() => Promise<void>} action */
async function busy(button, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// --- the session ----------------------------------------------------------------------------

/** Signed in (the cookie is set): make the client, connect, show the route. */
async function start() {
  me = await accountClient().me();
  followed = new Set(me.following ?? []);
  client = new AtdeskClient(location.origin, {
    session: 'cookie',
    clientName: CLIENT_NAME,
    accountId: me.id,
    // A phone app should come back quickly after a short outage: cap the waits at 5 s.
    backoff: new Backoff({ initialMs: 400, maximumMs: 5000 }),
  });
  const on = (type, listener) => stopListening.push(client.on(type, listener));
  on('message', onMessage);
  on('conversation', onConversation);
  on('read', onRead);
  on('typing', onTyping);
  on('notice', onNotice);
  on('rating_request', onRatingRequest);
  on('connected', () => { setConnection('online'); refreshConversations(); });
  on('disconnected', () => setConnection('offline'));
  on('send_failed', () => scheduleRender());
  on('failed', onFailed);
  $('whoami').textContent = `Signed in as ${me.display_name}`;
  setConnection('offline');
  client.connect({ wait: false }).catch(onFailed);
  await refreshConversations();
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/threads');
  onRoute();
}

async function stop() {
  for (const stopOne of stopListening.splice(0)) stopOne();
  await client?.close();
  client = null;
  me = null;
  for (const map of [conversations, messagesOf, previews, failedSends, readBy]) map.clear();
  loadedHistory.clear();
  ratedHere.clear();
  followed = new Set();
  for (const timer of typingTimers.values()) clearTimeout(timer);
  typingTimers.clear();
  $('threads').replaceChildren();
  $('messages').replaceChildren();
  $('notice-banner').hidden = true;
}

async function onFailed(error) {
  if (signingOut || !client) return;
  await stop();
  showSignIn(error instanceof AuthError ? 'Your session has ended. Please sign in again.' : explain(error));
}

/** @param {'online'|'offline'|'signed-out'} state */
function setConnection(state) {
  const node = $('connection');
  const live = state === 'online' && client?.state === 'connected';
  node.textContent = live ? 'online' : state === 'signed-out' ? 'offline' : 'offline · reconnecting…';
  node.classList.toggle('is-online', live);
  node.classList.toggle('is-offline', !live);
  node.hidden = state === 'signed-out';
  scheduleRender(); // pending messages say whether they wait for the network
}

// --- conversations --------------------------------------------------------------------------

async function refreshConversations() {
  if (!client) return;
  try {
    const listed = await client.allConversations();
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
      const page = await client?.messages(conversation.id, { afterSeq: conversation.last_seq - 1, limit: 1 });
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

const sortedConversations = () => [...conversations.values()].sort(
  (a, b) => String(b.last_message_at ?? '').localeCompare(String(a.last_message_at ?? '')),
);

/** @param {string} handle */
const conversationWith = (handle) => sortedConversations().find((c) => c.brand?.handle === handle);

/** @param {any} message */
function storeMessage(message) {
  let messages = messagesOf.get(message.conversation_id);
  if (!messages) messagesOf.set(message.conversation_id, (messages = new Map()));
  messages.set(message.seq, message);
  notePreview(message);
}

/** @param {any} message */
function onMessage(message) {
  storeMessage(message);
  const conversation = conversations.get(message.conversation_id);
  const mine = message.sender?.id === me?.id;
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
function onConversation(conversation) {
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

/** Is this case waiting for an agent? @param {any} conversation */
const queued = (conversation) => conversation?.status === 'open' && !conversation.assignee;

/** @param {{conversation_id: string, account_id: string, seq: number}} read */
function onRead(read) {
  if (read.account_id === me?.id) {
    const conversation = conversations.get(read.conversation_id);
    // Read on another device of mine.
    if (conversation && read.seq >= (conversation.last_seq ?? 0)) conversation.unread = 0;
  } else {
    readBy.set(read.conversation_id, Math.max(readBy.get(read.conversation_id) ?? 0, read.seq));
  }
  scheduleRender();
}

/** @param {{conversation_id: string, account_id: string}} typing */
function onTyping(typing) {
  if (typing.account_id === me?.id || !viewing(typing.conversation_id)) return;
  const conversation = conversations.get(typing.conversation_id);
  const node = $('typing');
  node.textContent = `${conversation?.brand?.name ?? 'The brand'} is typing…`;
  node.hidden = false;
  clearTimeout(typingTimers.get(typing.conversation_id));
  typingTimers.set(typing.conversation_id, setTimeout(() => hideTyping(typing.conversation_id), TYPING_SHOW_MS));
  keepAtBottom();
}

/** @param {string} [conversationId] */
function hideTyping(conversationId) {
  if (conversationId) {
    clearTimeout(typingTimers.get(conversationId));
    typingTimers.delete(conversationId);
  }
  $('typing').hidden = true;
}

/** @param {{id?: string, brand?: any, title?: string, text?: string}} notice */
function onNotice(notice) {
  if (!notice) return;
  const brand = notice.brand;
  const handle = typeof brand === 'string' ? normalizeHandle(brand) : brand?.handle ?? '';
  $('notice-banner-brand').textContent = handle ? `@${handle}` : '';
  $('notice-banner-title').textContent = notice.title ?? 'Notice';
  $('notice-banner-text').textContent = notice.text ?? '';
  $('notice-banner').dataset.handle = handle;
  $('notice-banner').hidden = false;
  if (route.name === 'brand' && route.arg === handle) loadNotices(handle);
}

/** @param {{conversation_id: string, case: number}} request */
function onRatingRequest(request) {
  // The conversation event that comes with it says the same; this one may arrive first.
  const conversation = conversations.get(request.conversation_id);
  if (conversation && conversation.case === request.case && (conversation.rating?.case ?? 0) < request.case) {
    conversation.status = 'resolved';
    conversation.rating = { case: request.case, score: null };
  }
  scheduleRender();
}

/** Is this conversation on screen, in a visible tab? @param {string} conversationId */
function viewing(conversationId) {
  return route.name === 'chat' && route.arg === conversationId && document.visibilityState === 'visible';
}

// --- rendering --------------------------------------------------------------------------------

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => {
    renderQueued = false;
    if (!me) return;
    if (route.name === 'threads') renderThreads();
    else if (route.name === 'chat' || route.name === 'draft') renderChat();
  });
}

function renderThreads() {
  const list = $('threads');
  const items = sortedConversations().map((conversation) => {
    const brand = conversation.brand ?? {};
    const preview = previews.get(conversation.id);
    const unread = conversation.unread ?? 0;
    const previewText = preview
      ? `${preview.sender?.id === me?.id ? 'You: ' : isSystem(preview) ? 'atdesk: ' : ''}${preview.text}`
      : 'No messages yet';
    const link = el('a', {
      class: `thread${unread ? ' has-unread' : ''}`,
      attrs: { href: `#/c/${encodeURIComponent(conversation.id)}`, 'data-conversation-id': conversation.id },
    }, [
      el('span', { class: 'avatar', text: initial(brand.name ?? brand.handle), attrs: { 'aria-hidden': 'true' } }),
      el('span', { class: 'thread-main' }, [
        el('span', { class: 'thread-top' }, [
          el('span', { class: 'thread-brand' }, [
            el('span', { class: 'thread-brand-name', text: brand.name ?? `@${brand.handle}` }),
            brand.verified && el('span', { class: 'verified', text: '✓', attrs: { title: 'Verified', 'aria-label': 'verified' } }),
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

/** The brand of the chat on screen, and its conversation (null for a new chat). */
function chatTarget() {
  if (route.name === 'chat') {
    const conversation = conversations.get(route.arg) ?? null;
    return { conversation, handle: conversation?.brand?.handle ?? null };
  }
  return { conversation: null, handle: route.arg };
}

/** Outbox entries for the chat on screen, oldest first. */
function pendingHere() {
  const { conversation, handle } = chatTarget();
  if (!client) return [];
  return client.pending().filter((entry) => (conversation && entry.conversation_id === conversation.id)
    || (handle && entry.to && normalizeHandle(entry.to) === handle));
}

function renderChat() {
  const { conversation, handle } = chatTarget();
  const brand = conversation?.brand ?? brands.get(handle) ?? { handle, name: handle ? `@${handle}` : '' };
  $('chat-brand-name').replaceChildren(
    el('span', { text: brand.name ?? `@${brand.handle}` }),
    brand.verified ? el('span', { class: 'verified', text: '✓', attrs: { title: 'Verified', 'aria-label': 'verified' } }) : '',
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
  const lastMine = [...messages].reverse().find((m) => m.sender?.id === me?.id);
  const items = messages.map((message) => messageItem(message, {
    seen: message === lastMine && seenUpTo >= message.seq,
  }));
  const online = client?.state === 'connected';
  for (const entry of pendingHere()) items.push(pendingItem(entry, online ? 'sending…' : 'sending… (waiting for connection)'));
  for (const [clientId, failed] of failedSends) {
    const here = (conversation && failed.entry.conversation_id === conversation.id)
      || (failed.entry.to && normalizeHandle(failed.entry.to) === handle);
    if (here) items.push(pendingItem(failed.entry, `not sent: ${failed.reason}`, clientId));
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

/** @param {any} message */
const isSystem = (message) => message?.sender?.role === 'system';

/** @param {any} message @param {{seen: boolean}} options */
function messageItem(message, { seen }) {
  if (isSystem(message)) return systemItem(message);
  const role = message.sender?.role ?? 'agent';
  const mine = message.sender?.id === me?.id;
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

/** @param {any} entry @param {string} state @param {string} [failedId] */
function pendingItem(entry, state, failedId) {
  const item = el('li', {
    class: `message mine pending${failedId ? ' failed' : ''}`,
    attrs: { 'data-client-id': entry.client_id },
  }, [
    el('span', { class: 'message-sender', text: 'You' }),
    el('p', { class: 'message-text', text: entry.text }),
    el('span', { class: 'message-meta', text: state }),
  ]);
  if (failedId) {
    const dismiss = el('button', { class: 'link-button small', text: 'Dismiss', attrs: { type: 'button' } });
    dismiss.addEventListener('click', () => { failedSends.delete(failedId); scheduleRender(); });
    item.append(dismiss);
  }
  return item;
}

/** The card shown before the first message. @param {any} brand */
function renderIntro(brand) {
  const cached = brands.get(brand.handle);
  $('chat-intro').replaceChildren(
    el('span', { class: 'avatar avatar-large', text: initial(brand.name ?? brand.handle), attrs: { 'aria-hidden': 'true' } }),
    el('p', { class: 'intro-name', text: brand.name ?? `@${brand.handle}` }),
    el('p', { class: 'muted small', text: cached ? speedLine(cached.service) : `@${brand.handle}` }),
    el('p', { class: 'muted small', text: 'Your conversation is private: only you and the brand\'s service team see it.' }),
    el('a', { class: 'link-button small', text: 'View profile', attrs: { href: `#/b/${encodeURIComponent(brand.handle)}` } }),
  );
}

function keepAtBottom() {
  const scroller = $('chat-scroll');
  scroller.scrollTop = scroller.scrollHeight;
}

/** Tell the brand what was read, when the chat is on screen. @param {any} conversation @param {any[]} messages */
function markSeen(conversation, messages) {
  if (!viewing(conversation.id) || !client) return;
  const latest = messages.at(-1)?.seq ?? 0;
  const already = conversation._readSent ?? 0;
  if (latest > already && latest > 0) {
    try {
      client.markRead(conversation.id, latest);
      conversation._readSent = latest;
    } catch {
      // the client stopped; 'failed' handles it
    }
  }
  if (conversation.unread) {
    conversation.unread = 0;
  }
}

// --- threads view -----------------------------------------------------------------------------

function openThreads() {
  showView('view-threads', 'atdesk');
  renderThreads();
}

// --- new message: the @ field -------------------------------------------------------------------

let searchTimer;
let searchSeq = 0;
let suggestionsShown = [];

function openNew() {
  showView('view-new', 'New message');
  const input = $('to');
  input.value = '';
  renderSuggestions([]);
  $('to-status').textContent = 'Search the brand directory by @handle or name.';
  input.focus();
}

function onToInput() {
  clearTimeout(searchTimer);
  const query = normalizeHandle($('to').value);
  if (!query) {
    searchSeq += 1;
    renderSuggestions([]);
    $('to-status').textContent = 'Search the brand directory by @handle or name.';
    return;
  }
  searchTimer = setTimeout(() => search(query), SEARCH_DELAY_MS);
}

/** @param {string} query */
async function search(query) {
  const mine = ++searchSeq;
  $('to-status').textContent = 'Searching…';
  try {
    const found = await accountClient().searchBrands(query, { limit: 8 });
    if (mine !== searchSeq) return; // a newer keystroke won
    for (const brand of found) brands.set(brand.handle, brand);
    renderSuggestions(found);
    $('to-status').textContent = found.length ? `${found.length} brand${found.length > 1 ? 's' : ''} found` : `No brand matches @${query}.`;
  } catch (error) {
    if (mine !== searchSeq) return;
    renderSuggestions([]);
    $('to-status').textContent = explain(error);
  }
}

/** @param {any[]} found */
function renderSuggestions(found) {
  suggestionsShown = found;
  const items = found.map((brand, index) => {
    const button = el('button', {
      class: 'suggestion',
      attrs: { type: 'button', role: 'option', id: `suggestion-${index}`, 'data-handle': brand.handle, 'aria-selected': 'false' },
    }, [
      el('span', { class: 'avatar', text: initial(brand.name ?? brand.handle), attrs: { 'aria-hidden': 'true' } }),
      el('span', { class: 'suggestion-text' }, [
        el('span', { class: 'suggestion-name' }, [
          el('span', { text: brand.name ?? brand.handle }),
          brand.verified && el('span', { class: 'verified', text: '✓', attrs: { title: 'Verified', 'aria-label': 'verified' } }),
        ]),
        el('span', { class: 'suggestion-handle muted small', text: handleLine(brand) }),
      ]),
    ]);
    button.addEventListener('click', () => pick(brand.handle));
    const profile = el('a', {
      class: 'suggestion-profile', text: 'Profile',
      attrs: { href: `#/b/${encodeURIComponent(brand.handle)}`, 'aria-label': `Profile of @${brand.handle}` },
    });
    return el('li', { class: 'suggestion-row', attrs: { role: 'presentation' } }, [button, profile]);
  });
  $('brand-suggestions').replaceChildren(...items);
  $('to').setAttribute('aria-expanded', String(items.length > 0));
}

/** Picked a brand: its thread if there is one, else a new chat. @param {string} handle */
function pick(handle) {
  const existing = conversationWith(handle);
  go(existing ? `#/c/${encodeURIComponent(existing.id)}` : `#/to/${encodeURIComponent(handle)}`);
}

/** @param {KeyboardEvent} event */
function onToKey(event) {
  const options = [...$('brand-suggestions').querySelectorAll('.suggestion')];
  const current = options.findIndex((o) => o.getAttribute('aria-selected') === 'true');
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    if (!options.length) return;
    event.preventDefault();
    const next = event.key === 'ArrowDown' ? (current + 1) % options.length : (current - 1 + options.length) % options.length;
    options.forEach((o, i) => o.setAttribute('aria-selected', String(i === next)));
    $('to').setAttribute('aria-activedescendant', options[next].id);
  } else if (event.key === 'Enter') {
    event.preventDefault();
    const typed = normalizeHandle($('to').value);
    const chosen = suggestionsShown[current] ?? suggestionsShown.find((b) => b.handle === typed);
    if (chosen) {
      pick(chosen.handle);
    } else if (typed) {
      // Faster than the debounce: search now, and take the brand if it is the one typed.
      clearTimeout(searchTimer);
      search(typed).then(() => {
        const exact = suggestionsShown.find((b) => b.handle === typed) ?? (suggestionsShown.length === 1 ? suggestionsShown[0] : null);
        if (exact && route.name === 'new') pick(exact.handle);
      });
    }
  }
}

// --- chat view ----------------------------------------------------------------------------------

/** @param {string} conversationId */
async function openChat(conversationId) {
  showView('chat', 'Chat');
  showError($('chat-error'), null);
  $('rating-thanks').hidden = true;
  if (!conversations.has(conversationId)) await refreshConversations();
  if (route.name !== 'chat' || route.arg !== conversationId) return;
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
      for (const message of await client.history(conversationId)) storeMessage(message);
      loadedHistory.add(conversationId);
    } catch (error) {
      if (error instanceof AuthError) return onFailed(error);
      showError($('chat-error'), `Could not load earlier messages: ${explain(error)}`);
    }
    if (route.name === 'chat' && route.arg === conversationId) {
      renderChat();
      keepAtBottom();
    }
  }
}

/** A new chat with a brand, before its first message. @param {string} handle */
async function openDraft(handle) {
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
  if (route.name !== 'draft' || route.arg !== handle) return;
  if (!brand) showError($('chat-error'), `There is no brand @${handle}.`);
  renderChat();
}

function focusCompose() {
  // On a phone, opening the keyboard on every navigation is intrusive; on a desktop it helps.
  if (matchMedia('(hover: hover) and (pointer: fine)').matches) $('compose').focus();
}

/** @param {string} handle @returns {Promise<any>} */
async function loadBrand(handle) {
  try {
    const brand = await accountClient().brand(handle);
    brands.set(brand.handle, brand);
    return brand;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    return brands.get(handle) ?? null;
  }
}

async function onCompose(event) {
  event.preventDefault();
  const input = $('compose');
  const text = input.value;
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
    if (route.name === 'draft' && route.arg === handle) go(`#/c/${encodeURIComponent(ack.conversation_id)}`, { replace: true });
    else scheduleRender();
  } catch (error) {
    if (error?.code === 'client_closed') return;
    failedSends.set(clientId, { entry: conversation ? { client_id: clientId, text, conversation_id: conversation.id } : { client_id: clientId, text, to: `@${handle}` }, reason: explain(error) });
    scheduleRender();
  }
}

/** @param {KeyboardEvent} event */
function onComposeKey(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
}

function onComposeInput() {
  autosize();
  const { conversation } = chatTarget();
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

// --- rating --------------------------------------------------------------------------------------

let ratingScore = 0;
let ratingFor = '';

/** @param {any} conversation */
function ratingKey(conversation) {
  return `${conversation.id}:${conversation.rating?.case ?? conversation.case ?? 1}`;
}

/**
 * Should this chat ask for a rating now? While the case just resolved is not rated: the
 * gateway's `rating` ({case, score}, score null until rated) says so on every device.
 * "Later" is this device's own choice.
 * @param {any} conversation
 */
function wantsRating(conversation) {
  if (!conversation || conversation.status !== 'resolved') return false;
  const rating = conversation.rating;
  if (!rating || rating.case !== conversation.case || rating.score !== null) return false;
  const key = ratingKey(conversation);
  return !ratedHere.has(key) && !loadSet('rating-later').has(key);
}

/** @param {any} conversation @param {any} brand */
function renderRating(conversation, brand) {
  const form = $('rating');
  const show = wantsRating(conversation);
  if (!show) {
    form.hidden = true;
    return;
  }
  const key = ratingKey(conversation);
  if (ratingFor !== key) {
    ratingFor = key;
    ratingScore = 0;
    $('rating-comment').value = '';
    showError($('rating-error'), null);
    $('rating-submit').disabled = true;
    for (const button of form.querySelectorAll('.rating-score')) button.setAttribute('aria-pressed', 'false');
  }
  $('rating-question').textContent = `Your case was resolved. How did ${brand.name ?? `@${brand.handle}`} do?`;
  form.hidden = false;
}

/** @param {MouseEvent} event */
function onScore(event) {
  const button = event.target.closest('.rating-score');
  if (!button) return;
  ratingScore = Number(button.dataset.score);
  for (const other of $('rating').querySelectorAll('.rating-score')) {
    other.setAttribute('aria-pressed', String(Number(other.dataset.score) <= ratingScore));
    other.classList.toggle('chosen', Number(other.dataset.score) === ratingScore);
  }
  $('rating-submit').disabled = false;
}

async function onRate(event) {
  event.preventDefault();
  const { conversation } = chatTarget();
  if (!conversation || !ratingScore || !client) return;
  const key = ratingKey(conversation);
  await busy($('rating-submit'), async () => {
    try {
      await client.rate(conversation.id, ratingScore, $('rating-comment').value.trim() || undefined);
      ratedHere.add(key);
      $('rating').hidden = true;
      $('rating-thanks').textContent = 'Thanks for your rating!';
      $('rating-thanks').hidden = false;
      keepAtBottom();
    } catch (error) {
      if (error instanceof ApiError && (error.code === 'already_rated' || error.code === 'not_resolved')) {
        // Not a failure to report: rated from another device, or the case reopened.
        if (error.code === 'already_rated') ratedHere.add(key);
        $('rating').hidden = true;
        $('rating-thanks').textContent = error.code === 'already_rated'
          ? 'You have already rated this case. Thank you!'
          : 'This conversation is open again: you can rate it once it is resolved.';
        $('rating-thanks').hidden = false;
        keepAtBottom();
      } else if (missingEndpoint(error)) {
        showError($('rating-error'), 'Ratings are not available on this gateway yet (POST /v1/conversations/{id}/rating is missing).');
      } else {
        showError($('rating-error'), explain(error));
      }
    }
  });
  if ($('rating').hidden) $('rating-submit').disabled = true;
}

function onRateLater() {
  const { conversation } = chatTarget();
  if (conversation) remember('rating-later', ratingKey(conversation));
  $('rating').hidden = true;
}

/** @param {string} what @param {string} key */
function remember(what, key) {
  const set = loadSet(what);
  set.add(key);
  saveSet(what, set);
}

// --- brand profile ---------------------------------------------------------------------------------

/** @param {string} handle */
async function openBrand(handle) {
  showView('brand-profile', `@${handle}`);
  showError($('brand-error'), null);
  showError($('follow-error'), null);
  const cached = brands.get(handle);
  if (cached) renderBrand(cached);
  else {
    $('brand-name').textContent = `@${handle}`;
    $('brand-handle').textContent = '';
    $('brand-description').textContent = '';
    $('service-figures').replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
  }
  loadNotices(handle);
  refreshFollowing(handle);
  try {
    const brand = await accountClient().brand(handle);
    brands.set(brand.handle, brand);
    if (route.name === 'brand' && route.arg === handle) renderBrand(brand);
  } catch (error) {
    if (route.name !== 'brand' || route.arg !== handle) return;
    const unknown = error instanceof ApiError && error.status === 404;
    showError($('brand-error'), unknown ? `There is no brand @${handle}.` : explain(error));
  }
}

/** @param {any} brand */
function renderBrand(brand) {
  $('title').textContent = brand.name ?? `@${brand.handle}`;
  $('brand-avatar').textContent = initial(brand.name ?? brand.handle);
  $('brand-name').replaceChildren(
    el('span', { text: brand.name ?? `@${brand.handle}` }),
    brand.verified ? el('span', { class: 'verified', text: '✓ Verified', attrs: { title: 'Verified brand' } }) : '',
  );
  $('brand-handle').textContent = `@${brand.handle}`;
  $('brand-description').textContent = brand.description ?? '';
  $('brand-description').hidden = !brand.description;
  $('message-brand').textContent = `Message @${brand.handle}`;
  renderFigures(brand.service ?? {});
  renderHours(brand.hours);
  renderFollow(brand);
}

/** @param {any} service */
function renderFigures(service) {
  const median = service.median_first_response_s;
  const count = (n, one) => `${one}${n === 1 ? '' : 's'}`;
  const tile = (name, value, label) => el('div', {
    class: `figure${value === null ? ' figure-empty' : ''}`, attrs: { 'data-figure': name },
  }, [
    el('span', { class: 'figure-value', text: value ?? 'not enough data yet' }),
    el('span', { class: 'figure-label', text: label }),
  ]);
  const number = (value) => (typeof value === 'number' ? value : null);
  $('service-figures').replaceChildren(
    tile('median_first_response_s', number(median) === null ? null : `usually answers in ${duration(median)}`,
      'median first response'),
    tile('csat', number(service.csat) === null ? null : `${service.csat.toFixed(1)} / 5`, 'customer satisfaction'),
    tile('rated_cases', number(service.rated_cases) === null ? null : String(service.rated_cases),
      count(service.rated_cases, 'rated case')),
    tile('resolved_cases', number(service.resolved_cases) === null ? null : String(service.resolved_cases),
      count(service.resolved_cases, 'resolved case')),
  );
  $('window-days').textContent = String(service.window_days ?? 30);
}

// --- opening hours ---------------------------------------------------------------------------

const DAY_KEYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_NAMES = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
const DAY_SHORT = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

/** A day's open intervals as minutes [start, end), sorted. @param {any} weekly @param {string} day */
function dayIntervals(weekly, day) {
  const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  const raw = Array.isArray(weekly?.[day]) ? weekly[day] : [];
  return raw.filter((pair) => Array.isArray(pair) && pair.length === 2)
    .map(([start, end]) => ({ start: minutes(start), end: minutes(end), from: start, to: end }))
    .sort((a, b) => a.start - b.start);
}

/** Runs of consecutive days with the same hours: [{from, to, text}], Monday first. @param {any} weekly */
function dayGroups(weekly) {
  const groups = [];
  for (const day of DAY_KEYS) {
    const intervals = dayIntervals(weekly, day);
    const text = intervals.length ? intervals.map((i) => `${i.from}–${i.to}`).join(', ') : 'Closed';
    const last = groups.at(-1);
    if (last && last.text === text) last.to = day;
    else groups.push({ from: day, to: day, text });
  }
  return groups;
}

/** @param {{from: string, to: string}} group @param {Record<string, string>} names */
const daySpan = (group, names) => (group.from === group.to ? names[group.from] : `${names[group.from]}–${names[group.to]}`);

/** "Mon–Fri 09:00–17:00; Sat 10:00–13:00, Europe/Paris". @param {any} hours */
function hoursSummary(hours) {
  const open = dayGroups(hours.weekly).filter((group) => group.text !== 'Closed');
  const days = open.length ? open.map((group) => `${daySpan(group, DAY_SHORT)} ${group.text}`).join('; ') : 'Closed every day';
  return hours.time_zone ? `${days}, ${hours.time_zone}` : days;
}

/** The weekday (0 = Monday) and minutes past midnight on the wall clocks of a time zone. @param {string} timeZone @param {Date} now */
function wallClock(timeZone, now) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(now);
  const part = (type) => parts.find((p) => p.type === type)?.value ?? '';
  const day = DAY_KEYS.indexOf(part('weekday').slice(0, 3).toLowerCase());
  return { day, minutes: (Number(part('hour')) % 24) * 60 + Number(part('minute')) };
}

/**
 * Is the desk open now, and until / from when: the brand's wall clock through Intl (so its
 * daylight saving is the browser's tz database's). An interval never crosses midnight.
 * @param {any} hours @param {Date} [now]
 * @returns {{open: boolean, text: string}|null} null when the time zone is unknown here
 */
function deskState(hours, now = new Date()) {
  let clock;
  try {
    clock = wallClock(hours.time_zone, now);
  } catch {
    return null; // a time zone this browser does not know
  }
  if (clock.day < 0) return null;
  const current = dayIntervals(hours.weekly, DAY_KEYS[clock.day])
    .find((i) => i.start <= clock.minutes && clock.minutes < i.end);
  if (current) return { open: true, text: `Open now · until ${current.end === 1440 ? 'midnight' : current.to}` };
  for (let offset = 0; offset <= 7; offset++) {
    const key = DAY_KEYS[(clock.day + offset) % 7];
    const next = dayIntervals(hours.weekly, key).find((i) => offset > 0 || i.start > clock.minutes);
    if (!next) continue;
    const day = offset === 0 ? 'today' : offset === 1 ? 'tomorrow' : offset === 7 ? `next ${DAY_SHORT[key]}` : DAY_SHORT[key];
    return { open: false, text: `Closed now · opens ${day} at ${next.from}` };
  }
  return { open: false, text: 'Closed now' };
}

/** @param {any} hours */
function renderHours(hours) {
  const weekly = hours?.weekly;
  $('hours-section').hidden = !weekly;
  if (!weekly) return;
  $('hours-summary').textContent = hoursSummary(hours);
  $('opening-hours').replaceChildren(...dayGroups(weekly).map((group) => el('div', { class: 'hours-row' }, [
    el('dt', { text: daySpan(group, DAY_NAMES) }),
    el('dd', { text: group.text }),
  ])));
  const state = deskState(hours);
  const badge = $('open-now');
  badge.hidden = !state;
  badge.textContent = state?.text ?? '';
  badge.classList.toggle('is-open', Boolean(state?.open));
  badge.classList.toggle('is-closed', Boolean(state && !state.open));
  $('hours-zone').textContent = hours.time_zone ? `Times in ${hours.time_zone}.` : '';
}

/** Whether I follow a brand: my GET /v1/me `following`, kept up to date here. @param {any} brand */
function following(brand) {
  return followed.has(brand.handle);
}

/** Read again whom I follow (it may have changed on another device). @param {string} handle */
async function refreshFollowing(handle) {
  try {
    const fresh = await accountClient().me();
    followed = new Set(fresh.following ?? []);
  } catch {
    return; // offline: what we knew stays
  }
  const brand = brands.get(handle);
  if (brand && route.name === 'brand' && route.arg === handle) renderFollow(brand);
}

/** @param {any} brand */
function renderFollow(brand) {
  const button = $('follow');
  const on = following(brand);
  button.textContent = on ? 'Following' : 'Follow';
  button.setAttribute('aria-pressed', String(on));
  button.classList.toggle('is-following', on);
}

async function onFollow() {
  const handle = route.arg;
  const brand = brands.get(handle);
  if (!brand || !client) return;
  const want = !following(brand);
  await busy($('follow'), async () => {
    try {
      if (want) await client.follow(handle);
      else await client.unfollow(handle);
      if (want) followed.add(handle);
      else followed.delete(handle);
      showError($('follow-error'), null);
    } catch (error) {
      showError($('follow-error'), missingEndpoint(error)
        ? 'Following is not available on this gateway yet (POST /v1/brands/{handle}/follow is missing).'
        : explain(error));
    }
  });
  renderFollow(brand);
}

/** @param {string} handle */
async function loadNotices(handle) {
  const list = $('notices');
  const status = $('notices-status');
  try {
    const notices = await accountClient().notices(handle, { limit: 20 });
    if (route.name !== 'brand' || route.arg !== handle) return;
    list.replaceChildren(...notices.map((notice) => el('li', { class: 'notice' }, [
      el('p', { class: 'notice-title', text: notice.title ?? '' }),
      el('p', { class: 'notice-text', text: notice.text ?? '' }),
      el('p', { class: 'notice-time muted small', text: when(notice.created_at) }),
    ])));
    status.textContent = notices.length ? '' : 'No notices: nothing to report.';
  } catch (error) {
    if (route.name !== 'brand' || route.arg !== handle) return;
    list.replaceChildren();
    status.textContent = missingEndpoint(error)
      ? 'Notices are not available on this gateway yet.'
      : `Could not load notices: ${explain(error)}`;
  }
}

function onMessageBrand() {
  const handle = route.arg;
  if (handle) pick(handle);
}

// --- wiring ----------------------------------------------------------------------------------------

let navigations = 0; // hash changes inside this page: Back may return to the previous view

function onBack() {
  if (route.name === 'brand' && navigations > 0) history.back();
  else go('#/threads');
}

function wire() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('signup-form').addEventListener('submit', onSignUp);
  $('show-signup').addEventListener('click', () => {
    showView('view-signup', 'atdesk');
    $('signup-email').value ||= $('signin-email').value;
    $('signup-name').focus();
  });
  $('show-signin').addEventListener('click', () => showSignIn());
  $('signout').addEventListener('click', onSignOut);
  $('new-chat').addEventListener('click', () => go('#/new'));
  $('back').addEventListener('click', onBack);
  $('to').addEventListener('input', onToInput);
  $('to').addEventListener('keydown', onToKey);
  $('composer').addEventListener('submit', onCompose);
  $('compose').addEventListener('keydown', onComposeKey);
  $('compose').addEventListener('input', onComposeInput);
  $('rating').addEventListener('click', onScore);
  $('rating').addEventListener('submit', onRate);
  $('rating-later').addEventListener('click', onRateLater);
  $('follow').addEventListener('click', onFollow);
  $('message-brand').addEventListener('click', onMessageBrand);
  $('notice-dismiss').addEventListener('click', () => { $('notice-banner').hidden = true; });
  $('notice-open').addEventListener('click', () => {
    const handle = $('notice-banner').dataset.handle;
    $('notice-banner').hidden = true;
    if (handle) go(`#/b/${encodeURIComponent(handle)}`);
  });
  window.addEventListener('hashchange', () => {
    navigations += 1;
    onRoute();
  });
  document.addEventListener('visibilitychange', () => scheduleRender());
}

async function boot() {
  wire();
  for (let attempt = 0; ; attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      if (error instanceof AuthError) {
        showSignIn();
        return;
      }
      // The gateway is down: say so, and try again shortly.
      $('loading-text').textContent = `${explain(error)} Retrying…`;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10000, 1000 * 2 ** attempt)));
    }
  }
}

boot();
