// The SDK against a real gateway on 127.0.0.1 (see test-support/gateway.js), killed and
// restarted, and still exact.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { AtdeskClient, AuthError, Backoff, ClientClosed, SendRejected } from '../atdesk.js';
import { Gateway, MapStorage, call, desk, history, record, sleep, until } from '../test-support/gateway.js';

/** @type {Gateway} */
let shared;
const opened = [];

before(async () => {
  shared = await Gateway.start();
});

after(async () => {
  await Promise.all(opened.map((client) => client.close()));
  await shared?.destroy();
});

/** A client with fast reconnects, closed after the test run. */
function client(url, options = {}) {
  const made = new AtdeskClient(url, {
    WebSocket, storage: null, backoff: new Backoff({ initialMs: 50, maximumMs: 500 }), ...options,
  });
  opened.push(made);
  return made;
}

const rows = (messages) => messages.map((m) => [m.seq, m.id, m.client_id, m.text]);

test('happy path: a consumer writes to @brand, the agent answers, receipts and typing flow', { timeout: 60_000 }, async () => {
  const { agent, handle } = await desk(shared.url);
  const lea = client(shared.url);
  await lea.signUp('lea-happy@example.com', 'correct horse', 'Lea');
  const session = await lea.signIn('lea-happy@example.com', 'correct horse');
  assert.equal(lea.accountId, session.account_id);
  assert.deepEqual((await lea.searchBrands(handle.slice(0, 4))).map((b) => b.handle), [handle]);
  const sam = client(shared.url, { token: agent.token });
  const leaSeen = record(lea);
  const samSeen = record(sam);
  await Promise.all([lea.connect(), sam.connect()]);
  assert.equal(lea.state, 'connected');

  const ack = await lea.send(`@${handle}`, `@${handle} my order never came`);
  assert.equal(ack.seq, 1);
  const conversationId = ack.conversation_id;
  await until(() => samSeen.message.length === 1, 10_000, 'the agent to get the message');
  assert.equal(samSeen.message[0].client_id, ack.client_id);
  assert.equal(samSeen.message[0].sender.role, 'consumer');
  assert.ok(samSeen.conversation.some((c) => c.id === conversationId), 'members hear of the new conversation');

  sam.typing(conversationId);
  await until(() => leaSeen.typing.length === 1, 10_000, 'typing');
  assert.deepEqual(leaSeen.typing[0], { conversation_id: conversationId, account_id: agent.account_id });
  const reply = await sam.send(conversationId, 'Sorry! Checking now.');
  assert.equal(reply.seq, 2);
  await until(() => leaSeen.message.length === 2, 10_000, 'the answer');
  assert.deepEqual(leaSeen.message.map((m) => [m.seq, m.sender.role, m.text]), [
    [1, 'consumer', `@${handle} my order never came`],
    [2, 'agent', 'Sorry! Checking now.'],
  ]);
  lea.markRead(conversationId, 2);
  await until(() => samSeen.read.some((r) => r.seq === 2), 10_000, 'the read receipt');
  assert.equal(samSeen.read.find((r) => r.seq === 2).account_id, session.account_id);

  // A second message to @handle lands in the same conversation.
  const again = await lea.send(`@${handle}`, 'any news?');
  assert.deepEqual([again.conversation_id, again.seq], [conversationId, 3]);
  assert.deepEqual(rows(await lea.history(conversationId)).map((r) => r[3]),
    [`@${handle} my order never came`, 'Sorry! Checking now.', 'any news?']);
  assert.deepEqual((await lea.allConversations()).map((c) => c.id), [conversationId]);

  // Refused for good: rejected, out of the outbox, and said as an event.
  await assert.rejects(lea.send('@nosuchbrand_zz', 'hello?'), (error) => error instanceof SendRejected && error.code === 'unknown_brand');
  assert.equal(leaSeen.send_failed[0].code, 'unknown_brand');
  assert.deepEqual(lea.pending(), []);
  await Promise.all([lea.close(), sam.close()]);
  assert.equal(lea.state, 'closed');
});

test('the gateway SIGKILLed and restarted mid-conversation: every message once, in order', { timeout: 60_000 }, async () => {
  const gateway = await Gateway.start();
  try {
    const { agent, consumer, handle } = await desk(gateway.url);
    const lea = client(gateway.url, { token: consumer.token, accountId: consumer.account_id, storage: new MapStorage() });
    const sam = client(gateway.url, { token: agent.token, accountId: agent.account_id, storage: new MapStorage() });
    const leaSeen = record(lea);
    const samSeen = record(sam);
    await Promise.all([lea.connect(), sam.connect()]);
    const leaTexts = Array.from({ length: 40 }, (_, n) => `lea ${n}`);
    const samTexts = Array.from({ length: 40 }, (_, n) => `sam ${n}`);

    const first = await lea.send(`@${handle}`, leaTexts[0]);
    const conversationId = first.conversation_id;
    await until(() => samSeen.message.length === 1, 10_000, 'the first message');
    await sam.send(conversationId, samTexts[0]);
    for (let n = 1; n < 6; n++) { // a few turns of a normal conversation
      await lea.send(conversationId, leaTexts[n]);
      await sam.send(conversationId, samTexts[n]);
    }

    const settled = new Set();
    const sendAll = (who, texts) => texts.map((text) => {
      const sent = who.send(conversationId, text);
      sent.then(() => settled.add(sent), () => settled.add(sent));
      return sent;
    });
    // Both sides send at once; the gateway is SIGKILLed the moment Lea's third ack is in,
    // with her later messages queued and both sides' next messages in flight.
    const sends = [...sendAll(lea, leaTexts.slice(6, 25)), ...sendAll(sam, samTexts.slice(6, 25))];
    sends[2].then(() => gateway.kill());
    await until(() => leaSeen.disconnected.length >= 1 && samSeen.disconnected.length >= 1, 20_000, 'both to see the crash');
    assert.ok(settled.size < sends.length, 'the kill must land mid-conversation');
    // Written while the gateway is down.
    sends.push(...sendAll(lea, leaTexts.slice(25)), ...sendAll(sam, samTexts.slice(25)));
    assert.ok(lea.pending().length > 0);
    await gateway.start(); // same port, same database
    const acks = await Promise.all(sends);

    await lea.sync(); // a barrier: every committed message has been handed on
    await sam.sync();
    const stored = await history(gateway.url, consumer.token, conversationId);
    assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 80 }, (_, n) => n + 1));
    assert.deepEqual(stored.filter((m) => m.sender.role === 'consumer').map((m) => m.text), leaTexts);
    assert.deepEqual(stored.filter((m) => m.sender.role === 'agent').map((m) => m.text), samTexts);
    assert.equal(new Set(stored.map((m) => m.client_id)).size, 80);
    const byClientId = new Map(stored.map((m) => [m.client_id, m]));
    for (const ack of acks) assert.deepEqual([ack.seq, ack.id], [byClientId.get(ack.client_id).seq, byClientId.get(ack.client_id).id]);
    // Both sides saw exactly the history: every message once, in seq order.
    assert.deepEqual(rows(leaSeen.message), rows(stored));
    assert.deepEqual(rows(samSeen.message), rows(stored));
    assert.deepEqual(lea.pending(), []);
    assert.deepEqual(sam.pending(), []);
    assert.ok(leaSeen.connected.length >= 2, 'reconnected after the restart');
    await Promise.all([lea.close(), sam.close()]);
  } finally {
    await gateway.destroy();
  }
});

/** A socket that delivers every message twice, an old one again late, and drops some once. */
class ChaosWebSocket extends WebSocket {
  static dropped = new Set();
  set onmessage(handler) {
    let previous = null;
    super.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type !== 'message') return handler(event);
      const key = `${frame.message.conversation_id}:${frame.message.seq}`;
      if (frame.message.seq % 4 === 0 && !ChaosWebSocket.dropped.has(key)) {
        ChaosWebSocket.dropped.add(key); // lost once: a later one shows the gap
        return undefined;
      }
      handler(event);
      handler(event);
      if (previous) handler(previous);
      previous = event;
      return undefined;
    };
  }
  get onmessage() {
    return super.onmessage;
  }
}

test('dedupe: duplicated, late and lost deliveries still give each message once, in order', { timeout: 60_000 }, async () => {
  const { agent, consumer, handle } = await desk(shared.url);
  const lea = client(shared.url, { token: consumer.token, WebSocket: ChaosWebSocket });
  const sam = client(shared.url, { token: agent.token });
  const leaSeen = record(lea);
  await Promise.all([lea.connect(), sam.connect()]);
  const { conversation_id: conversationId } = await lea.send(`@${handle}`, 'hello');
  for (let n = 0; n < 20; n++) await sam.send(conversationId, `answer ${n}`);
  await lea.sync();
  const stored = await history(shared.url, consumer.token, conversationId);
  assert.equal(stored.length, 21);
  assert.ok(ChaosWebSocket.dropped.size >= 5, 'some deliveries were lost');
  assert.deepEqual(rows(leaSeen.message), rows(stored));
});

test('after a reconnect it catches up by itself: threads it is behind in, and new ones', { timeout: 60_000 }, async () => {
  const { agent, consumer, handle } = await desk(shared.url);
  const max = (await desk(shared.url)).consumer; // another consumer of the same brand, later
  // Sam's network can be cut: new sockets then go to a port where nothing listens.
  let reachable = true;
  const sockets = [];
  class Flaky extends WebSocket {
    constructor(url, ...rest) {
      super(reachable ? url : 'ws://127.0.0.1:1/v1/ws', ...rest);
      sockets.push(this);
    }
  }
  const lea = client(shared.url, { token: consumer.token });
  const sam = client(shared.url, { token: agent.token, WebSocket: Flaky });
  const samSeen = record(sam);
  await Promise.all([lea.connect(), sam.connect()]);
  const { conversation_id: known } = await lea.send(`@${handle}`, 'before the cut');
  await until(() => samSeen.message.length === 1, 10_000, 'the first message');

  reachable = false;
  for (const socket of sockets) socket.terminate();
  await until(() => samSeen.disconnected.length >= 2, 10_000, 'a failed reconnect');
  for (const text of ['while away 1', 'while away 2']) await lea.send(known, text);
  const maxClient = client(shared.url, { token: max.token });
  await maxClient.connect();
  const { conversation_id: fresh } = await maxClient.send(`@${handle}`, 'a new thread while away');
  reachable = true;

  // No sync() call here: reconnecting alone must bring all of it, once each, in order:
  // 4 messages, and the gateway's automatic answer in each thread (nobody was online).
  await until(() => samSeen.message.length === 6, 20_000, 'the catch-up');
  const byThread = (id) => samSeen.message.filter((m) => m.conversation_id === id);
  assert.deepEqual(rows(byThread(known)), rows(await history(shared.url, consumer.token, known)));
  assert.deepEqual(rows(byThread(fresh)), rows(await history(shared.url, max.token, fresh)));
  assert.equal(samSeen.message.filter((m) => m.sender.role === 'system').length, 2);
  await sleep(200);
  assert.equal(samSeen.message.length, 6);
});

test('4401 stops reconnecting: a revoked token fails the client, for good', { timeout: 60_000 }, async () => {
  const { consumer } = await desk(shared.url);
  let sockets = 0;
  class Counting extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets += 1;
    }
  }
  const storage = new MapStorage();
  const lea = client(shared.url, { token: consumer.token, WebSocket: Counting, storage });
  const seen = record(lea);
  await lea.connect();
  // Revoked from elsewhere (another device signing out): the gateway closes the socket.
  await call(shared.url, 'DELETE', '/v1/sessions/current', { token: consumer.token });
  await until(() => lea.state === 'failed', 10_000, 'the client to stop');
  assert.ok(lea.failure instanceof AuthError);
  assert.ok(seen.failed[0] instanceof AuthError);
  assert.equal(seen.disconnected.length, 0, 'no reconnection was scheduled');
  await sleep(1000); // a reconnecting client would have tried many times with 50 ms waits
  assert.equal(sockets, 1);
  await assert.rejects(lea.send('@anyone', 'hi'), AuthError);
  await assert.rejects(lea.connect(), AuthError);

  // A dead token refused at hello (the saved state skips every HTTP call first): same.
  const again = client(shared.url, { token: consumer.token, accountId: consumer.account_id, WebSocket: Counting, storage });
  const queued = again.send('@anyone', 'kept for a new session');
  await assert.rejects(again.connect(), AuthError);
  await assert.rejects(queued, AuthError);
  await sleep(500);
  assert.equal(sockets, 2);
  assert.deepEqual(again.pending().map((e) => e.text), ['kept for a new session']);
});

test('the outbox survives a new client instance through a localStorage-like store', { timeout: 60_000 }, async () => {
  const { consumer, handle } = await desk(shared.url);
  const storage = new MapStorage();
  const options = { token: consumer.token, accountId: consumer.account_id, storage };

  // Written while offline (never connected), then the page is reloaded.
  const before = client(shared.url, options);
  const first = before.send(`@${handle}`, 'written offline');
  const second = before.send(`@${handle}`, 'and a second one');
  const saved = JSON.parse(storage.getItem(`atdesk:${consumer.account_id}`));
  assert.deepEqual(saved.outbox.map((e) => e.text), ['written offline', 'and a second one']);
  await before.close();
  await assert.rejects(first, ClientClosed);
  await assert.rejects(second, ClientClosed);

  const reloaded = client(shared.url, options);
  const restored = reloaded.pending();
  assert.deepEqual(restored.map((e) => e.text), ['written offline', 'and a second one']);
  await reloaded.connect();
  await reloaded.flush();
  const [conversation] = await reloaded.allConversations();
  const stored = await history(shared.url, consumer.token, conversation.id);
  // Nobody of the brand was online: the gateway answered the first message at once.
  assert.deepEqual(stored.map((m) => [m.seq, m.sender.role]), [[1, 'consumer'], [2, 'system'], [3, 'consumer']]);
  const written = stored.filter((m) => m.sender.role === 'consumer');
  assert.deepEqual(written.map((m) => [m.client_id, m.text]), restored.map((e) => [e.client_id, e.text]));
  assert.deepEqual(JSON.parse(storage.getItem(`atdesk:${consumer.account_id}`)).outbox, []);

  // A crash after the commit but before the ack was recorded: the entry is sent again,
  // with its client_id, and the gateway answers with the same ack; nothing is doubled.
  const crashed = new MapStorage();
  const sending = reloaded.send(conversation.id, 'acked, but the removal was lost');
  crashed.map = new Map(storage.map); // the store as it was before the ack
  const ack = await sending;
  const afterCrash = client(shared.url, { ...options, storage: crashed });
  assert.deepEqual(afterCrash.pending().map((e) => e.client_id), [ack.client_id]);
  await afterCrash.connect();
  await afterCrash.flush();
  const final = await history(shared.url, consumer.token, conversation.id);
  assert.deepEqual(final.filter((m) => m.sender.role === 'consumer').map((m) => m.text), ['written offline', 'and a second one', 'acked, but the removal was lost']);
  assert.equal(final.length, 4);
  await Promise.all([reloaded.close(), afterCrash.close()]);
});
