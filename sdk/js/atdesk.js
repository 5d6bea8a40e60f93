// atdesk JavaScript SDK: one dependency-free ES module for browsers, React Native and Node.
//
// It speaks the wire contract (PROTOCOL.md, sections 1-5) over fetch and a WebSocket and
// keeps the same promises as the Python SDK (sdk/python), whose design and names it mirrors:
// an outbox retried with the same client_id until acked (kept in localStorage when there is
// one), jittered exponential reconnects, a stop on 4401, a catch-up after each reconnect,
// and messages handed on once per (conversation_id, seq), in seq order.
//
// Only globalThis.WebSocket, fetch, localStorage and crypto are used, each replaceable
// through an option (Node 20 has no global WebSocket: pass the `ws` package's).

/**
 * @typedef {{handle: string, name: string, verified: boolean, description?: string|null, service?: object}} Brand
 * @typedef {{id: string, role: string, display_name: string}} Sender
 * @typedef {{conversation_id: string, seq: number, id: string, client_id: string,
 *   sender: Sender, text: string, created_at: string}} Message
 * @typedef {{id: string, brand: {handle: string, name: string, verified: boolean},
 *   consumer: {id: string, display_name: string}, status: string, case: number,
 *   assignee: object|null, last_seq: number, last_message_at: string|null, unread: number}} Conversation
 * @typedef {{client_id: string, conversation_id: string, seq: number, id: string, created_at: string}} Ack
 * @typedef {{token?: string, account_id: string, expires_at: string}} Session (no token: a cookie session)
 * @typedef {{client_id: string, text: string, to?: string, conversation_id?: string}} OutboxEntry
 * @typedef {{getItem(key: string): string|null, setItem(key: string, value: string): void,
 *   removeItem(key: string): void}} StorageLike  The synchronous part of the Web Storage API.
 * @typedef {'idle'|'connecting'|'connected'|'failed'|'closed'} ConnectionState
 * @typedef {{code: number|null, reason: string, retry_in_ms: number}} Disconnected
 * @typedef {{client_id: string, code: string, message: string}} SendFailed
 */

export const CLIENT_NAME = 'atdesk-js/0.1';
export const MAX_TEXT_CHARS = 4000;
export const MAX_CLIENT_ID_CHARS = 64;
const HELLO_TIMEOUT_MS = 10000;
// Closes after which reconnecting cannot help: the token is dead, or this origin is refused.
const FATAL_CLOSE_CODES = new Set([4401, 4403]);
// Socket errors worth retrying (a send with the same client_id, a sync); others are final.
const RETRYABLE_ERRORS = new Set(['rate_limited', 'internal']);

// --- errors ----------------------------------------------------------------------------

/** Base of every SDK error; `code` is the contract's stable snake_case code. */
export class AtdeskError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'AtdeskError';
    this.code = code;
    this.detail = message;
  }
}

/** The gateway refused an HTTP request; `status` is the HTTP status. */
export class ApiError extends AtdeskError {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(code, message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Bad credentials, or a token that is missing, expired or revoked: the client stops. */
export class AuthError extends ApiError {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(401, code, message);
    this.name = 'AuthError';
  }
}

/** The gateway could not be reached (or did not answer in time). */
export class NetworkError extends AtdeskError {
  /** @param {string} message */
  constructor(message) {
    super('unreachable', message);
    this.name = 'NetworkError';
  }
}

/** The gateway refused a message for good (`unknown_brand`, ...); it left the outbox. */
export class SendRejected extends AtdeskError {
  /** @param {string} clientId @param {string} code @param {string} message */
  constructor(clientId, code, message) {
    super(code, message);
    this.name = 'SendRejected';
    this.client_id = clientId;
  }
}

/** The client was closed while the call waited. */
export class ClientClosed extends AtdeskError {
  constructor(message = 'the client is closed') {
    super('client_closed', message);
    this.name = 'ClientClosed';
  }
}

/** Internal: the socket closed before the answer came; the caller retries on the next one. */
class LinkLost extends Error {}

// --- pure helpers ----------------------------------------------------------------------

/**
 * A handle as the gateway compares it: trimmed, without its leading at sign, lowercase.
 * @param {string} raw @returns {string}
 */
export function normalizeHandle(raw) {
  return raw.trim().replace(/^@/, '').toLowerCase();
}

/** Why the gateway would refuse `text`, or null if it would take it. @param {unknown} text */
export function textProblem(text) {
  if (typeof text !== 'string') return 'text must be a string';
  const trimmed = text.trim();
  if (!trimmed) return 'text must not be empty';
  // The gateway counts code points (Python str length), not UTF-16 units.
  const length = [...trimmed].length;
  if (length > MAX_TEXT_CHARS) return `text is ${length} characters; at most ${MAX_TEXT_CHARS}`;
  return null;
}

/** `http://host:8000` -> `ws://host:8000/v1/ws`. @param {string} httpUrl */
export function wsUrl(httpUrl) {
  // A regex, not URL: React Native's URL lacks most getters.
  const parts = /^(https?|wss?):\/\/([^/?#]+)([^?#]*)/i.exec(httpUrl.trim());
  if (!parts) throw new TypeError(`not a gateway address: ${httpUrl} (try http://127.0.0.1:8000)`);
  const scheme = parts[1].toLowerCase().replace(/^http/, 'ws');
  return `${scheme}://${parts[2]}${parts[3].replace(/\/+$/, '')}/v1/ws`;
}

/** A random client_id; randomUUID where there is one (React Native may lack it). */
function newClientId() {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID().replace(/-/g, '');
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Reports a listener's exception without breaking the SDK's own bookkeeping. */
/** @param {unknown} error */
function report(error) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
  else console.error('atdesk: an event listener threw', error);
}

const noop = () => {};

/** @param {unknown} error */
const errorText = (error) => (error instanceof Error ? error.message : String(error));

// --- back-off ---------------------------------------------------------------------------

/**
 * Exponential back-off with jitter, so a fleet of clients does not reconnect in step.
 * The n-th consecutive failure waits a random time in [ceiling / 2, ceiling], where
 * ceiling = min(maximumMs, initialMs * multiplier ** n); `reset()` after a good connection.
 */
export class Backoff {
  /** @param {{initialMs?: number, maximumMs?: number, multiplier?: number, random?: () => number}} [options] */
  constructor({ initialMs = 500, maximumMs = 30000, multiplier = 2, random = Math.random } = {}) {
    if (!(initialMs > 0 && initialMs <= maximumMs)) throw new RangeError('need 0 < initialMs <= maximumMs');
    if (!(multiplier >= 1)) throw new RangeError('multiplier must be at least 1');
    this.initialMs = initialMs;
    this.maximumMs = maximumMs;
    this.multiplier = multiplier;
    this.random = random;
    this.failures = 0;
  }

  /** The longest the next wait can be. */
  ceiling() {
    // Capping the exponent keeps the number finite after days of failures.
    return Math.min(this.maximumMs, this.initialMs * this.multiplier ** Math.min(this.failures, 64));
  }

  /** The wait before the next attempt, in ms; counts one more failure. */
  nextDelay() {
    const ceiling = this.ceiling();
    this.failures += 1;
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  reset() {
    this.failures = 0;
  }
}

// --- exactly once, in order -------------------------------------------------------------

/**
 * Per conversation, the highest seq handed on and the messages held back behind a gap.
 * Delivery is at least once and, after a reconnect, a live message can overtake older ones
 * a sync has not brought yet: a message is handed on only when every earlier seq has been,
 * and never twice (dedupe by (conversation_id, seq)).
 */
export class Sequencer {
  /** @param {Record<string, number>} [cursors] */
  constructor(cursors = {}) {
    /** @type {Map<string, number>} */
    this._cursors = new Map(Object.entries(cursors));
    /** @type {Map<string, Map<number, Message>>} */
    this._held = new Map();
  }

  /** Follow a conversation from `afterSeq`; false if already followed. @param {string} conversationId */
  track(conversationId, afterSeq = 0) {
    if (this._cursors.has(conversationId)) return false;
    this._cursors.set(conversationId, afterSeq);
    return true;
  }

  /** The highest seq handed on for this conversation (0: none). @param {string} conversationId */
  cursor(conversationId) {
    return this._cursors.get(conversationId) ?? 0;
  }

  /** @returns {Map<string, number>} a copy */
  cursors() {
    return new Map(this._cursors);
  }

  /** Whether messages wait for an earlier seq (a sync will bring it). @param {string} conversationId */
  hasGap(conversationId) {
    return (this._held.get(conversationId)?.size ?? 0) > 0;
  }

  /**
   * Take one delivered message; return those that may now be handed on, in order
   * (none for a duplicate, or for a message held behind a gap).
   * @param {Message} message @returns {Message[]}
   */
  receive(message) {
    const id = message.conversation_id;
    let cursor = this.cursor(id);
    this._cursors.set(id, cursor);
    let held = this._held.get(id);
    if (message.seq <= cursor || held?.has(message.seq)) return [];
    if (message.seq !== cursor + 1) {
      if (!held) this._held.set(id, (held = new Map()));
      held.set(message.seq, message);
      return [];
    }
    const ready = [message];
    cursor = message.seq;
    while (held?.has(cursor + 1)) {
      cursor += 1;
      ready.push(/** @type {Message} */ (held.get(cursor)));
      held.delete(cursor);
    }
    this._cursors.set(id, cursor);
    if (held && held.size === 0) this._held.delete(id);
    return ready;
  }

  /** Stop following a conversation (access to it was lost). @param {string} conversationId */
  forget(conversationId) {
    this._cursors.delete(conversationId);
    this._held.delete(conversationId);
  }
}

// --- saved state --------------------------------------------------------------------------

/**
 * One account's outbox, read cursors and baseline flag under one storage key, as JSON.
 * Every change reads, changes and writes the record in one synchronous step, so two tabs
 * sharing localStorage do not overwrite each other's entries.
 */
class StateStore {
  /** @param {StorageLike} storage @param {string} key */
  constructor(storage, key) {
    this.storage = storage;
    this.key = key;
  }

  /** @returns {{outbox: OutboxEntry[], cursors: Record<string, number>, baselined: boolean}} */
  read() {
    const empty = { outbox: [], cursors: {}, baselined: false };
    let data;
    try {
      data = JSON.parse(this.storage.getItem(this.key) ?? 'null');
    } catch {
      return empty; // unreadable: start afresh rather than never start
    }
    if (!data || data.v !== 1) return empty;
    return {
      outbox: Array.isArray(data.outbox) ? data.outbox.filter(validEntry) : [],
      cursors: data.cursors && typeof data.cursors === 'object' ? data.cursors : {},
      baselined: data.baselined === true,
    };
  }

  /**
   * @param {(state: ReturnType<StateStore['read']>) => void} change
   * @param {boolean} strict throw if the write fails (a queued message must be kept or refused)
   */
  update(change, strict = false) {
    try {
      const state = this.read();
      change(state);
      this.storage.setItem(this.key, JSON.stringify({ v: 1, ...state }));
    } catch (error) {
      // Losing a removal or a cursor costs a harmless resend or replay; losing an add does not.
      if (strict) throw error;
    }
  }
}

/** @param {any} entry @returns {entry is OutboxEntry} */
function validEntry(entry) {
  return (
    entry && typeof entry.client_id === 'string' && typeof entry.text === 'string' &&
    (typeof entry.to === 'string') !== (typeof entry.conversation_id === 'string')
  );
}

// --- the outbox ---------------------------------------------------------------------------

/** Messages waiting for their ack, oldest first; written to the store before they count. */
class Outbox {
  constructor() {
    /** @type {Map<string, OutboxEntry>} insertion order is age order */
    this.entries = new Map();
    /** @type {StateStore|null} */
    this.store = null;
  }

  get size() {
    return this.entries.size;
  }

  /** @param {OutboxEntry} entry */
  add(entry) {
    if (this.entries.has(entry.client_id)) {
      throw new AtdeskError('invalid_input', `client_id ${entry.client_id} is already in the outbox`);
    }
    this.store?.update((state) => {
      if (!state.outbox.some((e) => e.client_id === entry.client_id)) state.outbox.push(entry);
    }, true);
    this.entries.set(entry.client_id, entry);
  }

  /** Drop an acked (or refused) entry; the entry, or undefined if it was not waiting. @param {string} clientId */
  remove(clientId) {
    const entry = this.entries.get(clientId);
    if (entry) {
      this.entries.delete(clientId);
      this.store?.update((state) => {
        state.outbox = state.outbox.filter((e) => e.client_id !== clientId);
      });
    }
    return entry;
  }

  /**
   * Bind to a store: entries saved there (from an earlier run) are older than those queued
   * in this one, so they go first; this run's entries are then saved too.
   * @param {StateStore} store
   */
  attach(store) {
    const queued = [...this.entries.values()];
    this.entries = new Map(store.read().outbox.map((e) => [e.client_id, e]));
    this.store = store;
    for (const entry of queued) if (!this.entries.has(entry.client_id)) this.add(entry);
  }

  /**
   * The entries to send now, oldest first. One per destination is in flight at a time:
   * if the gateway refused one for rate and took the next, they would be committed out
   * of order, and per conversation order is the promise.
   * @param {Map<string, number>} inFlight client_id -> when sent, on the current socket
   * @param {(entry: OutboxEntry) => string} destination
   * @param {number} limit at most this many in flight in all
   */
  dispatchable(inFlight, destination, limit) {
    const busy = new Set();
    for (const id of inFlight.keys()) {
      const entry = this.entries.get(id);
      if (entry) busy.add(destination(entry));
    }
    let room = limit - inFlight.size;
    const chosen = [];
    for (const entry of this.entries.values()) {
      if (room <= 0) break;
      if (inFlight.has(entry.client_id)) continue;
      const where = destination(entry);
      if (busy.has(where)) continue;
      busy.add(where);
      chosen.push(entry);
      room -= 1;
    }
    return chosen;
  }
}

// --- one socket -----------------------------------------------------------------------------

/**
 * The client's side of one socket, from its opening to its close. What must survive a
 * reconnect (outbox, cursors, waiters) belongs to the client; what a Link holds (sends and
 * syncs awaiting an answer) is void once its socket is gone.
 */
class Link {
  /** @param {WebSocket} ws */
  constructor(ws) {
    this.ws = ws;
    this.closed = false;
    this.welcomed = false;
    /** @type {Map<string, number>} client_id -> when it was sent */
    this.inFlight = new Map();
    /** @type {Map<string, {conversationId: string, resolve: (value?: unknown) => void, reject: (e: Error) => void}>} */
    this.syncs = new Map();
    this.pausedUntil = 0;
    this.lastSeen = Date.now();
    this.refs = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.pumpTimer = undefined;
    /** Ends this link; set by the client. @type {(code: number|null, reason: string) => void} */
    this.finish = noop;
  }

  /** @param {object} frame */
  write(frame) {
    if (this.closed) return;
    try {
      this.ws.send(JSON.stringify(frame));
    } catch {
      // Not open after all: the close event follows, and the outbox resends on the next socket.
    }
  }

  /** @param {string} conversationId */
  isSyncing(conversationId) {
    for (const pending of this.syncs.values()) if (pending.conversationId === conversationId) return true;
    return false;
  }
}

// --- the client -------------------------------------------------------------------------------

/**
 * A client of one atdesk gateway, for a consumer or a brand's agent.
 *
 * Sending goes through an outbox: a message is retried with the same client_id over every
 * reconnect until the gateway acks it (and the gateway never commits one client_id twice).
 * Receiving is exactly once and in order per conversation: after each reconnect the client
 * lists conversations and syncs those it is behind in, and drops any (conversation_id, seq)
 * it already handed on.
 *
 * Events (`client.on(type, listener)`): 'message' (Message), 'conversation' (Conversation),
 * 'read' ({conversation_id, account_id, seq}), 'typing' ({conversation_id, account_id}),
 * 'notice' (the notice), 'rating_request' ({conversation_id, case}), 'connected'
 * ({account_id}), 'disconnected' (Disconnected), 'send_failed' (SendFailed), 'failed'
 * (AuthError: stopped for good), 'other' (a frame type this version does not know).
 */
export class AtdeskClient {
  /**
   * @param {string} url the gateway, e.g. `http://127.0.0.1:8000`
   * @param {object} [options]
   * @param {string|null} [options.token] a bearer token from an earlier signIn
   * @param {'token'|'cookie'} [options.session] 'cookie': a web page served by the gateway
   *   itself: signIn puts the session in an HttpOnly cookie the page never sees, and every
   *   state-changing request carries the CSRF token (the `atdesk_csrf` cookie's value)
   * @param {() => string} [options.csrfToken] where the CSRF token comes from; default the
   *   `atdesk_csrf` cookie
   * @param {string|null} [options.accountId] whose token it is (the session's account_id):
   *   lets messages queued before the first connection be saved at once
   * @param {StorageLike|null} [options.storage] where the outbox and read positions are kept;
   *   default localStorage when there is one; null keeps them in memory only
   * @param {string} [options.storageKey] prefix of the storage key (one key per account)
   * @param {typeof WebSocket} [options.WebSocket] default globalThis.WebSocket
   * @param {typeof fetch} [options.fetch] default globalThis.fetch
   * @param {Backoff} [options.backoff] reconnection waits; default 0.5 s growing to 30 s
   * @param {string} [options.clientName] sent in hello, for the gateway's logs
   * @param {number} [options.maxInFlight] at most this many messages awaiting their ack
   * @param {number} [options.ackTimeoutMs] a message with no answer after this long is resent
   * @param {number} [options.httpTimeoutMs] an HTTP call with no answer after this long fails
   */
  constructor(url = 'http://127.0.0.1:8000', options = {}) {
    this.baseUrl = url.replace(/\/+$/, '');
    this._wsUrl = wsUrl(url);
    /** @type {string|null} */
    this.token = options.token ?? null;
    this._cookieSession = options.session === 'cookie';
    this._csrfToken = options.csrfToken ?? csrfCookie;
    /** @type {string|null} */
    this.accountId = null;
    /** @type {ConnectionState} */
    this.state = 'idle';
    /** Why the client stopped for good (state 'failed'). @type {AtdeskError|null} */
    this.failure = null;
    this._storage = options.storage === undefined ? defaultStorage() : options.storage;
    this._storageKey = options.storageKey ?? 'atdesk';
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this._backoff = options.backoff ?? new Backoff();
    this._clientName = options.clientName ?? CLIENT_NAME;
    this._maxInFlight = options.maxInFlight ?? 32;
    this._ackTimeoutMs = options.ackTimeoutMs ?? 30000;
    this._httpTimeoutMs = options.httpTimeoutMs ?? 30000;
    this._outbox = new Outbox();
    this._sequencer = new Sequencer();
    /** @type {StateStore|null} */
    this._store = null;
    this._baselined = false;
    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map();
    /** @type {Map<string, {resolve: (ack: Ack) => void, reject: (e: Error) => void}>} */
    this._waiters = new Map();
    /** @type {Map<string, number>} read receipts not yet confirmed, resent after a reconnect */
    this._unconfirmedReads = new Map();
    /** @type {Map<string, string>} normalized handle -> the consumer's conversation with it */
    this._conversationForHandle = new Map();
    /** @type {Array<(value?: unknown) => void>} */
    this._changeWaiters = [];
    /** @type {Link|null} the signed-in socket */
    this._link = null;
    /** @type {Link|null} the socket being opened or in use */
    this._socket = null;
    this._running = false;
    this._pumpQueued = false;
    /** @type {{timer: ReturnType<typeof setTimeout>, resolve: (value?: unknown) => void}|null} */
    this._sleeping = null;
    if (options.accountId) this._bind(options.accountId);
  }

  // --- events -------------------------------------------------------------------------------

  /**
   * Listen to one type of event; returns a function that stops listening.
   * Attach listeners before `connect()`: a message is handed on once, to the listeners
   * there are then, and counts as handled (its read position is saved) after them.
   * @param {string} type @param {(payload: any) => void} listener @returns {() => void}
   */
  on(type, listener) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type)?.add(listener);
    return () => this.off(type, listener);
  }

  /** @param {string} type @param {(payload: any) => void} listener */
  off(type, listener) {
    this._listeners.get(type)?.delete(listener);
  }

  /** @param {string} type @param {unknown} payload */
  _emit(type, payload) {
    for (const listener of [...(this._listeners.get(type) ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        report(error);
      }
    }
  }

  // --- HTTP: accounts, directory, conversations, devices ---------------------------------

  /**
   * Create an account (it does not sign in). ApiError email_taken (409), invalid_input (422).
   * @param {string} email @param {string} password @param {string} displayName
   * @returns {Promise<{id: string, email: string, display_name: string}>}
   */
  async signUp(email, password, displayName) {
    return this._call('POST', '/v1/accounts', { body: { email, password, display_name: displayName }, auth: false });
  }

  /**
   * Get a token; the client uses it from now on. Keep `token` and `account_id` to build
   * the next client with (`{token, accountId}`). AuthError bad_credentials; ApiError rate_limited.
   * @param {string} email @param {string} password @param {string} [deviceName]
   * @returns {Promise<Session>}
   */
  async signIn(email, password, deviceName) {
    const body = { email, password, ...(deviceName ? { device_name: deviceName } : {}) };
    const path = this._cookieSession ? '/v1/web/session' : '/v1/sessions';
    const session = await this._call('POST', path, { body, auth: false });
    this._bind(session.account_id);
    this.token = session.token ?? null;
    return session;
  }

  /** Revoke the token everywhere; the socket closes with 4401 and the client stops. */
  async signOut() {
    await this._call('DELETE', this._cookieSession ? '/v1/web/session' : '/v1/sessions/current');
    this.token = null;
  }

  me() {
    return this._call('GET', '/v1/me');
  }

  /**
   * The directory, as an autocomplete of `@ac` would ask it.
   * @param {string} query @param {{limit?: number}} [options] @returns {Promise<Brand[]>}
   */
  async searchBrands(query, { limit = 10 } = {}) {
    return (await this._call('GET', '/v1/brands', { query: { q: query, limit }, auth: false })).brands;
  }

  /** One brand, by `"acme"` or `"@acme"`; ApiError unknown_brand. @param {string} handle @returns {Promise<Brand>} */
  brand(handle) {
    return this._call('GET', this._brandPath(handle), { auth: false });
  }

  /**
   * One page of your threads, newest activity first.
   * @param {{status?: 'open'|'resolved', limit?: number, before?: string}} [options]
   * @returns {Promise<{conversations: Conversation[], next: string|null}>}
   */
  conversations({ status, limit = 50, before } = {}) {
    return this._call('GET', '/v1/conversations', { query: { status, limit, before } });
  }

  /**
   * Every one of your threads, newest activity first.
   * @param {{status?: 'open'|'resolved'}} [options] @returns {Promise<Conversation[]>}
   */
  async allConversations({ status } = {}) {
    const found = [];
    let before;
    for (;;) {
      const page = await this.conversations({ status, limit: 200, before });
      found.push(...page.conversations);
      if (!page.next) return found;
      before = page.next;
    }
  }

  /** @param {string} conversationId @returns {Promise<Conversation>} */
  conversation(conversationId) {
    return this._call('GET', this._conversationPath(conversationId));
  }

  /**
   * One page of history, oldest first.
   * @param {string} conversationId @param {{afterSeq?: number, limit?: number}} [options]
   * @returns {Promise<{messages: Message[], last_seq: number}>}
   */
  messages(conversationId, { afterSeq = 0, limit = 100 } = {}) {
    const path = `${this._conversationPath(conversationId)}/messages`;
    return this._call('GET', path, { query: { after_seq: afterSeq, limit } });
  }

  /**
   * A conversation's whole history after `afterSeq`, oldest first.
   * @param {string} conversationId @param {{afterSeq?: number}} [options] @returns {Promise<Message[]>}
   */
  async history(conversationId, { afterSeq = 0 } = {}) {
    const found = [];
    for (;;) {
      const page = await this.messages(conversationId, { afterSeq, limit: 500 });
      found.push(...page.messages);
      if (page.messages.length < 500) return found;
      afterSeq = page.messages[page.messages.length - 1].seq;
    }
  }

  /**
   * Receive pushes while no socket of yours is live; registering again is harmless.
   * @param {'android'|'ios'|'web'} platform @param {string} pushToken the device's FCM token
   */
  async registerDevice(platform, pushToken) {
    await this._call('POST', '/v1/devices', { body: { platform, push_token: pushToken } });
  }

  /** @param {string} pushToken */
  async unregisterDevice(pushToken) {
    await this._call('DELETE', `/v1/devices/${encodeURIComponent(pushToken)}`);
  }

  // --- HTTP: a brand's desk (members) and service quality ---------------------------------

  /** @param {string} handle @param {string} name @param {string} [description] @returns {Promise<Brand>} */
  createBrand(handle, name, description) {
    return this._call('POST', '/v1/brands', { body: { handle: normalizeHandle(handle), name, description } });
  }

  /**
   * Owners and admins: change the name, description or opening hours.
   * @param {string} handle @param {{name?: string, description?: string, hours?: object|null}} changes
   * @returns {Promise<Brand>}
   */
  updateBrand(handle, changes) {
    return this._call('PATCH', this._brandPath(handle), { body: changes });
  }

  /** Who works for the brand (members only). @param {string} handle */
  async members(handle) {
    return (await this._call('GET', `${this._brandPath(handle)}/members`)).members;
  }

  /**
   * Owners and admins: add a member by email, or change their role.
   * @param {string} handle @param {string} email @param {'admin'|'agent'} role
   */
  putMember(handle, email, role) {
    return this._call('POST', `${this._brandPath(handle)}/members`, { body: { email, role } });
  }

  /** @param {string} handle @param {string} accountId */
  async removeMember(handle, accountId) {
    await this._call('DELETE', `${this._brandPath(handle)}/members/${encodeURIComponent(accountId)}`);
  }

  /**
   * Members: resolve the case, with your guess of the customer's satisfaction (1..5).
   * @param {string} conversationId @param {{agentEstimate?: number}} [options] @returns {Promise<Conversation>}
   */
  resolve(conversationId, { agentEstimate } = {}) {
    const body = agentEstimate === undefined ? undefined : { agent_estimate: agentEstimate };
    return this._call('POST', `${this._conversationPath(conversationId)}/resolve`, { body });
  }

  /** Members: assign to a member, or to nobody (null). @param {string} conversationId @param {string|null} accountId */
  assign(conversationId, accountId) {
    return this._call('POST', `${this._conversationPath(conversationId)}/assign`, { body: { account_id: accountId } });
  }

  /** The consumer rates the latest resolved case. @param {string} conversationId @param {number} score @param {string} [comment] */
  rate(conversationId, score, comment) {
    return this._call('POST', `${this._conversationPath(conversationId)}/rating`, { body: { score, ...(comment ? { comment } : {}) } });
  }

  /** @param {string} handle */
  async follow(handle) {
    await this._call('POST', `${this._brandPath(handle)}/follow`);
  }

  /** @param {string} handle */
  async unfollow(handle) {
    await this._call('DELETE', `${this._brandPath(handle)}/follow`);
  }

  /** The brand's public incident history, newest first. @param {string} handle @param {{limit?: number}} [options] */
  async notices(handle, { limit = 20 } = {}) {
    return (await this._call('GET', `${this._brandPath(handle)}/notices`, { query: { limit }, auth: false })).notices;
  }

  /** Owners and admins: tell followers and open conversations. @param {string} handle @param {string} title @param {string} text */
  postNotice(handle, title, text) {
    return this._call('POST', `${this._brandPath(handle)}/notices`, { body: { title, text } });
  }

  /** Members: the brand's figures per agent and per day. @param {string} handle @param {{days?: number}} [options] */
  stats(handle, { days = 30 } = {}) {
    return this._call('GET', `${this._brandPath(handle)}/stats`, { query: { days } });
  }

  /**
   * Any other endpoint of the contract: the decoded JSON body (null for an empty one).
   * @param {string} method @param {string} path e.g. `/v1/brands/acme/canned`
   * @param {{body?: unknown, query?: Record<string, unknown>, auth?: boolean}} [options]
   */
  request(method, path, options = {}) {
    return this._call(method, path, options);
  }

  /** @param {string} handle */
  _brandPath(handle) {
    return `/v1/brands/${encodeURIComponent(normalizeHandle(handle))}`;
  }

  /** @param {string} conversationId */
  _conversationPath(conversationId) {
    return `/v1/conversations/${encodeURIComponent(conversationId)}`;
  }

  /**
   * One request; the decoded JSON body (null for an empty one).
   * @param {string} method @param {string} path
   * @param {{body?: unknown, query?: Record<string, unknown>, auth?: boolean}} [options]
   */
  async _call(method, path, { body, query, auth = true } = {}) {
    if (!this._fetch) throw new AtdeskError('unsupported', 'no fetch here: pass options.fetch');
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    if (this._cookieSession) {
      if (method !== 'GET') headers['x-csrf-token'] = this._csrfToken();
    } else if (auth) {
      if (!this.token) throw new AuthError('unauthenticated', 'sign in first');
      headers.authorization = `Bearer ${this.token}`;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    let url = this.baseUrl + path;
    // By hand, not URLSearchParams: React Native's is incomplete.
    const params = Object.entries(query ?? {})
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
    if (params.length) url += `?${params.join('&')}`;
    const abort = typeof AbortController === 'function' ? new AbortController() : null;
    const timer = abort ? setTimeout(() => abort.abort(), this._httpTimeoutMs) : undefined;
    let response;
    let text;
    try {
      response = await this._fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: abort?.signal,
        ...(this._cookieSession ? { credentials: 'same-origin' } : {}),
      });
      text = await response.text();
    } catch (error) {
      throw new NetworkError(`${method} ${path}: ${errorText(error)}`);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      if (response.ok) throw new ApiError(response.status, 'bad_response', `${method} ${path}: not JSON`);
    }
    if (response.ok) return data;
    // Not the contract's error shape (a proxy's page, say): keep the HTTP status.
    const code = data?.error?.code ?? 'http_error';
    const message = data?.error?.message ?? `HTTP ${response.status}`;
    if (response.status === 401) throw new AuthError(code, message);
    throw new ApiError(response.status, code, message);
  }

  // --- the socket: public calls --------------------------------------------------------------

  /**
   * Start the socket; it then reconnects by itself until `close()` or a dead token.
   * @param {{wait?: boolean}} [options] wait: resolve once signed in on the socket, however
   *   many attempts that takes; false: at once (sends wait in the outbox meanwhile)
   */
  async connect({ wait = true } = {}) {
    this._checkUsable();
    if (!this.token && !this._cookieSession) throw new AuthError('unauthenticated', 'sign in first');
    if (!this._running) {
      this._running = true;
      this.state = 'connecting';
      this._run().catch((error) => this._fail(error instanceof AtdeskError ? error : new AtdeskError('internal', String(error))));
    }
    if (wait) await this._liveLink();
  }

  /** Stop everything. Unacked messages stay in storage; pending sends reject with ClientClosed. */
  async close() {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this._wake();
    this._socket?.finish(1000, 'closed by the client');
    this._finish(new ClientClosed());
  }

  /**
   * Send a message; resolves with the gateway's ack (the message is committed then).
   * It goes to the outbox first (to storage when there is one) and is retried with the same
   * client_id across reconnects until acked.
   * @param {string} target `"@acme"` (opens or finds your thread with the brand) or a conversation id
   * @param {string} text 1..4000 characters after trimming
   * @param {{clientId?: string}} [options] your id for the message, unique per sender; random by default
   * @returns {Promise<Ack>} rejects with SendRejected (refused for good), AuthError, ClientClosed
   */
  async send(target, text, { clientId } = {}) {
    const problem = textProblem(text);
    if (problem) throw new AtdeskError('invalid_input', problem);
    if (typeof target !== 'string' || !target.trim()) {
      throw new AtdeskError('invalid_input', 'send to "@handle" or a conversation id');
    }
    const id = clientId ?? newClientId();
    if (typeof id !== 'string' || id.length < 1 || id.length > MAX_CLIENT_ID_CHARS) {
      throw new AtdeskError('invalid_input', `client_id must be 1 to ${MAX_CLIENT_ID_CHARS} characters`);
    }
    this._checkUsable();
    const trimmed = target.trim();
    /** @type {OutboxEntry} */
    const entry = trimmed.startsWith('@') ? { client_id: id, text, to: trimmed } : { client_id: id, text, conversation_id: trimmed };
    this._outbox.add(entry);
    const acked = new Promise((resolve, reject) => this._waiters.set(id, { resolve, reject }));
    this._schedulePump();
    return acked;
  }

  /** Messages not acked yet, oldest first (those restored from storage too). @returns {OutboxEntry[]} */
  pending() {
    return [...this._outbox.entries.values()].map((entry) => ({ ...entry }));
  }

  /** Resolve once every message in the outbox is acked (or refused). */
  async flush() {
    while (this._outbox.size) {
      this._checkUsable();
      await this._changed();
    }
  }

  /**
   * Move your read cursor; the other side gets a 'read' event. Resent after a reconnect.
   * @param {string} conversationId @param {number} seq
   */
  markRead(conversationId, seq) {
    this._checkUsable();
    if (seq > (this._unconfirmedReads.get(conversationId) ?? 0)) this._unconfirmedReads.set(conversationId, seq);
    this._link?.write({ type: 'read', ref: `r:${conversationId}`, conversation_id: conversationId, seq });
  }

  /** Tell the other side you are typing. Dropped when offline: it would be stale later. @param {string} conversationId */
  typing(conversationId) {
    this._checkUsable();
    this._link?.write({ type: 'typing', conversation_id: conversationId });
  }

  /**
   * Catch up now: list conversations, sync every one, resolve when each has answered.
   * Every message committed before the call has then been handed to the listeners.
   */
  async sync() {
    for (;;) {
      const link = await this._liveLink();
      try {
        await this._catchUp(link, true);
        return;
      } catch (error) {
        if (error instanceof NetworkError) link.finish(null, `catching up failed: ${error.message}`);
        else if (!(error instanceof LinkLost)) throw error;
        // That socket died (or was ended so the back-off paces the retry): the next one.
      }
    }
  }

  // --- the connection loop ---------------------------------------------------------------------

  async _run() {
    while (!this._stopped()) {
      let code = null;
      let reason = '';
      try {
        // Knowing the account first picks the right saved outbox and cursors.
        if (this.accountId === null) this._bind((await this.me()).id);
        if (!this._baselined) await this._baseline();
        if (this._stopped()) return;
        ({ code, reason } = await this._connectOnce());
      } catch (error) {
        if (error instanceof AuthError || (error instanceof AtdeskError && error.code === 'account_mismatch')) {
          this._fail(error);
          return;
        }
        reason = errorText(error); // unreachable, a 5xx or 429 while listing
      }
      if (this._stopped()) return;
      if (code !== null && FATAL_CLOSE_CODES.has(code)) {
        this._fail(new AuthError('unauthenticated', reason || 'the gateway refused the token'));
        return; // reconnecting would only be refused again
      }
      this.state = 'connecting';
      const delay = this._backoff.nextDelay();
      this._emit('disconnected', { code, reason, retry_in_ms: delay });
      this._notify();
      await this._sleep(delay);
    }
  }

  /**
   * A client with no saved state starts from now: what is already in a thread is in
   * `history()`, and events bring what comes after.
   */
  async _baseline() {
    for (const conversation of await this.allConversations()) {
      if (this._sequencer.track(conversation.id, conversation.last_seq)) {
        this._saveCursor(conversation.id, conversation.last_seq);
      }
    }
    this._baselined = true;
    this._store?.update((state) => { state.baselined = true; });
  }

  /** One socket, from opening to close. @returns {Promise<{code: number|null, reason: string}>} */
  _connectOnce() {
    return new Promise((resolve) => {
      if (!this._WebSocket) {
        this._fail(new AtdeskError('unsupported', 'no WebSocket here: pass options.WebSocket'));
        resolve({ code: null, reason: 'no WebSocket' });
        return;
      }
      const token = this.token;
      if (!token && !this._cookieSession) throw new AuthError('unauthenticated', 'signed out');
      /** @type {WebSocket} */
      let ws;
      try {
        ws = new this._WebSocket(this._wsUrl);
      } catch (error) {
        resolve({ code: null, reason: errorText(error) });
        return;
      }
      const link = new Link(ws);
      this._socket = link;
      /** @type {ReturnType<typeof setInterval>|undefined} */
      let heartbeat;
      // Bounds the TCP connect, the handshake and the wait for welcome alike.
      const helloTimer = setTimeout(() => link.finish(null, 'no welcome in time'), HELLO_TIMEOUT_MS);
      link.finish = (code, reason) => {
        if (link.closed) return;
        link.closed = true;
        clearTimeout(helloTimer);
        clearInterval(heartbeat);
        clearTimeout(link.pumpTimer);
        // Noops rather than null: the `ws` package throws on an 'error' nobody listens to.
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = noop;
        try {
          ws.close(code === 1000 ? 1000 : undefined);
        } catch {
          // already closing
        }
        for (const pending of link.syncs.values()) pending.reject(new LinkLost());
        link.syncs.clear();
        if (this._socket === link) this._socket = null;
        if (this._link === link) {
          this._link = null;
          this._notify();
        }
        resolve({ code, reason });
      };
      // A cookie session's hello has no token: the upgrade request carried the cookie.
      ws.onopen = () => link.write({ type: 'hello', ...(token ? { token } : {}), client: this._clientName });
      ws.onclose = (event) => link.finish(event.code ?? null, event.reason || '');
      ws.onerror = noop; // the close event follows with what there is to know
      ws.onmessage = (event) => {
        link.lastSeen = Date.now();
        let frame;
        try {
          frame = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data));
        } catch {
          return; // not JSON: nothing this SDK can act on
        }
        if (!frame || typeof frame.type !== 'string') return;
        if (link.welcomed) {
          this._onFrame(link, frame);
          return;
        }
        if (frame.type !== 'welcome') {
          link.finish(null, `expected welcome, got ${frame.type}`);
          return;
        }
        clearTimeout(helloTimer);
        link.welcomed = true;
        // Browsers cannot see WebSocket pings, so a dead network could leave this socket
        // waiting forever: ping at the gateway's heartbeat and give up after two silent ones.
        const every = Math.max(1, Number(frame.heartbeat_s) || 25) * 1000;
        heartbeat = setInterval(() => {
          if (Date.now() - link.lastSeen > 2 * every) link.finish(null, 'no answer to heartbeats');
          else link.write({ type: 'ping' });
        }, every);
        this._linkUp(link, frame);
      };
    });
  }

  /** @param {Link} link @param {{account_id: string}} welcome */
  _linkUp(link, welcome) {
    if (welcome.account_id !== this.accountId) {
      this._fail(new AtdeskError('account_mismatch', 'the token belongs to another account than this client'));
      return;
    }
    this._backoff.reset();
    this._link = link;
    this.state = 'connected';
    this._emit('connected', { account_id: welcome.account_id });
    this._notify();
    for (const [conversationId, seq] of this._unconfirmedReads) {
      link.write({ type: 'read', ref: `r:${conversationId}`, conversation_id: conversationId, seq });
    }
    this._schedulePump();
    this._catchUp(link, false).catch((error) => {
      if (error instanceof LinkLost) return;
      if (error instanceof AuthError) this._fail(error);
      // The socket is up but the listing failed: start over on a fresh connection.
      else link.finish(null, `catching up failed: ${errorText(error)}`);
    });
  }

  /**
   * List conversations (finding those started while away), then sync those behind.
   * @param {Link} link @param {boolean} everyConversation sync all, not only those behind
   */
  async _catchUp(link, everyConversation) {
    const listed = new Map((await this.allConversations()).map((c) => [c.id, c]));
    if (link.closed) throw new LinkLost();
    for (const conversation of listed.values()) {
      this._sequencer.track(conversation.id); // new since the baseline: all of it is news
      this._learn(conversation);
    }
    const waiting = [];
    for (const [conversationId, cursor] of this._sequencer.cursors()) {
      const known = listed.get(conversationId);
      const behind = !known || known.last_seq > cursor;
      if (everyConversation || behind || this._sequencer.hasGap(conversationId)) {
        waiting.push(this._startSync(link, conversationId));
      }
    }
    await Promise.all(waiting);
  }

  /**
   * Ask for what was missed in one conversation; resolves at its `synced`.
   * @param {Link} link @param {string} conversationId @returns {Promise<unknown>}
   */
  _startSync(link, conversationId) {
    if (link.closed) return Promise.reject(new LinkLost());
    const ref = `y:${++link.refs}`;
    const done = new Promise((resolve, reject) => link.syncs.set(ref, { conversationId, resolve, reject }));
    done.catch(noop); // a sync started to fill a gap has no one awaiting it
    link.write({ type: 'sync', ref, conversation_id: conversationId, after_seq: this._sequencer.cursor(conversationId) });
    return done;
  }

  /** @returns {Promise<Link>} */
  async _liveLink() {
    for (;;) {
      this._checkUsable();
      if (!this._running) throw new AtdeskError('not_connected', 'call connect() first');
      if (this._link && !this._link.closed) return this._link;
      await this._changed();
    }
  }

  // --- frames from the gateway -------------------------------------------------------------------

  /** @param {Link} link @param {any} frame */
  _onFrame(link, frame) {
    switch (frame.type) {
      case 'message': {
        const message = frame.message;
        if (typeof message?.conversation_id !== 'string' || !Number.isInteger(message.seq)) return;
        for (const ready of this._sequencer.receive(message)) {
          this._emit('message', ready);
          // Handled once the listeners returned: a reload does not hand it on again.
          this._saveCursor(ready.conversation_id, ready.seq);
        }
        const id = message.conversation_id;
        if (this._sequencer.hasGap(id) && !link.isSyncing(id)) this._startSync(link, id);
        return;
      }
      case 'ack':
        this._onAck(link, frame);
        return;
      case 'synced': {
        const pending = link.syncs.get(frame.ref);
        if (!pending) return;
        link.syncs.delete(frame.ref);
        pending.resolve();
        if (this._sequencer.hasGap(pending.conversationId)) this._startSync(link, pending.conversationId);
        return;
      }
      case 'error':
        this._onError(link, frame);
        return;
      case 'conversation':
        if (typeof frame.conversation?.id !== 'string') return;
        this._sequencer.track(frame.conversation.id);
        this._learn(frame.conversation);
        this._emit('conversation', frame.conversation);
        return;
      case 'read':
        if (frame.account_id === this.accountId && (this._unconfirmedReads.get(frame.conversation_id) ?? 0) <= frame.seq) {
          this._unconfirmedReads.delete(frame.conversation_id);
        }
        this._emit('read', { conversation_id: frame.conversation_id, account_id: frame.account_id, seq: frame.seq });
        return;
      case 'typing':
        this._emit('typing', { conversation_id: frame.conversation_id, account_id: frame.account_id });
        return;
      case 'notice':
        this._emit('notice', frame.notice);
        return;
      case 'rating_request':
        this._emit('rating_request', { conversation_id: frame.conversation_id, case: frame.case });
        return;
      case 'pong':
      case 'welcome':
        return;
      default:
        this._emit('other', frame); // the contract lets the gateway add frame types
    }
  }

  /** @param {Link} link @param {Ack & {ref?: string}} frame */
  _onAck(link, frame) {
    link.inFlight.delete(frame.client_id);
    const entry = this._outbox.remove(frame.client_id);
    if (entry?.to) this._conversationForHandle.set(normalizeHandle(entry.to), frame.conversation_id);
    const { client_id, conversation_id, seq, id, created_at } = frame;
    const waiter = this._waiters.get(client_id);
    this._waiters.delete(client_id);
    waiter?.resolve({ client_id, conversation_id, seq, id, created_at });
    this._schedulePump();
    this._notify();
  }

  /** @param {Link} link @param {{ref?: string, code: string, message: string, retry_after_s?: number}} error */
  _onError(link, error) {
    const ref = typeof error.ref === 'string' ? error.ref : '';
    const retryable = RETRYABLE_ERRORS.has(error.code);
    const pauseMs = (error.retry_after_s ?? 1) * 1000;
    if (ref.startsWith('s:')) {
      const clientId = ref.slice(2);
      link.inFlight.delete(clientId);
      if (retryable) {
        link.pausedUntil = Math.max(link.pausedUntil, Date.now() + pauseMs);
        this._schedulePump();
        return;
      }
      if (!this._outbox.remove(clientId)) return; // answered already (a resend of an acked one)
      const waiter = this._waiters.get(clientId);
      this._waiters.delete(clientId);
      waiter?.reject(new SendRejected(clientId, error.code, error.message));
      this._emit('send_failed', { client_id: clientId, code: error.code, message: error.message });
      this._schedulePump();
      this._notify();
    } else if (ref.startsWith('r:')) {
      if (!retryable) this._unconfirmedReads.delete(ref.slice(2)); // refused for good
    } else if (ref.startsWith('y:')) {
      const pending = link.syncs.get(ref);
      if (!pending) return;
      if (retryable) {
        // Again later, from the cursor as it is then.
        setTimeout(() => {
          if (link.syncs.get(ref) === pending) {
            link.write({ type: 'sync', ref, conversation_id: pending.conversationId, after_seq: this._sequencer.cursor(pending.conversationId) });
          }
        }, pauseMs);
        return;
      }
      link.syncs.delete(ref);
      pending.resolve();
      if (error.code === 'not_found' || error.code === 'forbidden') {
        this._sequencer.forget(pending.conversationId); // access lost: nothing more to sync
        this._store?.update((state) => { delete state.cursors[pending.conversationId]; });
      }
    }
  }

  // --- the outbox pump ---------------------------------------------------------------------------

  _schedulePump() {
    if (this._pumpQueued) return;
    this._pumpQueued = true;
    // Coalesces the many changes of one turn (a burst of sends, several acks) into one pass.
    queueMicrotask(() => {
      this._pumpQueued = false;
      this._pump();
    });
  }

  _pump() {
    const link = this._link;
    if (!link || link.closed) return;
    clearTimeout(link.pumpTimer);
    const now = Date.now();
    if (link.pausedUntil > now) {
      link.pumpTimer = setTimeout(() => this._pump(), link.pausedUntil - now);
      return;
    }
    for (const [clientId, sentAt] of link.inFlight) {
      // Answered elsewhere, or no answer for too long: due for a resend (same client_id).
      if (!this._outbox.entries.has(clientId) || now - sentAt >= this._ackTimeoutMs) link.inFlight.delete(clientId);
    }
    for (const entry of this._outbox.dispatchable(link.inFlight, (e) => this._destination(e), this._maxInFlight)) {
      link.inFlight.set(entry.client_id, now);
      link.write({ type: 'send', ref: `s:${entry.client_id}`, ...entry });
    }
    if (link.inFlight.size) {
      const oldest = Math.min(...link.inFlight.values());
      link.pumpTimer = setTimeout(() => this._pump(), Math.max(0, oldest + this._ackTimeoutMs - now));
    }
  }

  /**
   * The conversation an entry goes to as far as the client knows: `"@acme"` counts as the
   * conversation with @acme once its id is known, so one thread's messages stay ordered
   * whichever way they were addressed. @param {OutboxEntry} entry
   */
  _destination(entry) {
    if (entry.conversation_id) return entry.conversation_id;
    const handle = normalizeHandle(entry.to ?? '');
    return this._conversationForHandle.get(handle) ?? `@${handle}`;
  }

  /** @param {Conversation} conversation */
  _learn(conversation) {
    if (conversation.consumer?.id === this.accountId && conversation.brand?.handle) {
      this._conversationForHandle.set(normalizeHandle(conversation.brand.handle), conversation.id);
    }
  }

  // --- bookkeeping -------------------------------------------------------------------------------

  /** Tie the client to one account, and load that account's saved outbox and cursors. @param {string} accountId */
  _bind(accountId) {
    if (this.accountId === accountId) return;
    if (this.accountId !== null) {
      throw new AtdeskError('account_mismatch', 'this client belongs to another account: make a new client');
    }
    this.accountId = accountId;
    if (!this._storage) return;
    this._store = new StateStore(this._storage, `${this._storageKey}:${accountId}`);
    const saved = this._store.read();
    for (const [conversationId, seq] of Object.entries(saved.cursors)) {
      if (Number.isInteger(seq)) this._sequencer.track(conversationId, seq);
    }
    this._baselined = this._baselined || saved.baselined;
    this._outbox.attach(this._store);
  }

  /** @param {string} conversationId @param {number} seq */
  _saveCursor(conversationId, seq) {
    this._store?.update((state) => {
      if (!(state.cursors[conversationId] >= seq)) state.cursors[conversationId] = seq;
    });
  }

  /** A promise resolved at the next change of link, outbox or state. */
  _changed() {
    return new Promise((resolve) => this._changeWaiters.push(resolve));
  }

  _notify() {
    const waiters = this._changeWaiters;
    this._changeWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** @param {number} ms */
  _sleep(ms) {
    return new Promise((resolve) => {
      this._sleeping = { timer: setTimeout(resolve, ms), resolve };
    }).finally(() => { this._sleeping = null; });
  }

  /** Cut a back-off wait short (the client is closing). */
  _wake() {
    if (this._sleeping) {
      clearTimeout(this._sleeping.timer);
      this._sleeping.resolve();
    }
  }

  _stopped() {
    return this.state === 'closed' || this.state === 'failed';
  }

  _checkUsable() {
    if (this.failure) throw this.failure;
    if (this.state === 'closed') throw new ClientClosed();
  }

  /** Stop for good (a dead token): reconnecting would only be refused again. @param {AtdeskError} error */
  _fail(error) {
    if (this._stopped()) return;
    this.failure = error;
    this.state = 'failed';
    this._wake();
    this._socket?.finish(1000, 'client stopped');
    this._finish(error);
    this._emit('failed', error);
  }

  /** Reject every waiting call; the outbox itself stays (in storage) for the next client. @param {Error} error */
  _finish(error) {
    for (const waiter of this._waiters.values()) waiter.reject(error);
    this._waiters.clear();
    this._notify();
  }
}

/** localStorage where there is one; reading it can throw (sandboxed frames, privacy modes). */
/** The CSRF token our pages get from the gateway as a (readable) cookie. */
function csrfCookie() {
  const found = String(globalThis.document?.cookie ?? '')
    .split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith('atdesk_csrf='));
  return found ? decodeURIComponent(found.slice('atdesk_csrf='.length)) : '';
}

function defaultStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
