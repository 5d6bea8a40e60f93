// The rules without a gateway: back-off, dedupe and ordering, and frame routing over a fake
// socket. The behaviour against a real gateway is in gateway.test.js.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AtdeskClient, Backoff, Sequencer, normalizeHandle, textProblem, wsUrl } from '../atdesk.js';
import { MapStorage, record, until } from '../test-support/gateway.js';

test('backoff grows with jitter, stays under its maximum, and resets', () => {
  let draw = 0;
  const backoff = new Backoff({ initialMs: 100, maximumMs: 1000, random: () => [0, 1][draw++ % 2] });
  const delays = Array.from({ length: 8 }, () => backoff.nextDelay());
  assert.deepEqual(delays, [50, 200, 200, 800, 500, 1000, 500, 1000]);
  backoff.reset();
  assert.equal(backoff.nextDelay(), 50);
  const random = new Backoff();
  for (let n = 0; n < 200; n++) {
    const ceiling = random.ceiling();
    const delay = random.nextDelay();
    assert.ok(delay >= ceiling / 2 && delay <= ceiling && delay <= 30_000);
  }
});

test('the sequencer hands each (conversation_id, seq) on once, in order, across a gap', () => {
  const sequencer = new Sequencer({ c1: 2 });
  const m = (conversation_id, seq) => ({ conversation_id, seq });
  const seqs = (messages) => messages.map((x) => x.seq);
  assert.deepEqual(seqs(sequencer.receive(m('c1', 2))), []); // already handed on
  assert.deepEqual(seqs(sequencer.receive(m('c1', 4))), []); // held behind the gap at 3
  assert.equal(sequencer.hasGap('c1'), true);
  assert.deepEqual(seqs(sequencer.receive(m('c1', 4))), []); // a duplicate of a held one
  assert.deepEqual(seqs(sequencer.receive(m('c1', 3))), [3, 4]);
  assert.equal(sequencer.hasGap('c1'), false);
  assert.deepEqual(seqs(sequencer.receive(m('c1', 3))), []);
  assert.deepEqual(seqs(sequencer.receive(m('c2', 1))), [1]); // a new conversation starts at 1
  assert.equal(sequencer.cursor('c1'), 4);
});

test('helpers follow the contract', () => {
  assert.equal(normalizeHandle(' @ACME '), 'acme');
  assert.equal(wsUrl('http://127.0.0.1:8000/'), 'ws://127.0.0.1:8000/v1/ws');
  assert.equal(wsUrl('https://chat.example/api'), 'wss://chat.example/api/v1/ws');
  assert.equal(textProblem('  hi '), null);
  assert.match(textProblem('   '), /empty/);
  assert.equal(textProblem('😀'.repeat(4000)), null); // code points, as the gateway counts
  assert.match(textProblem('x'.repeat(4001)), /4001/);
});

/** A socket that speaks just enough of the gateway's side, driven by the test. */
class FakeSocket {
  static last = null;
  constructor(url) {
    this.url = url;
    this.sent = [];
    FakeSocket.last = this;
    setTimeout(() => this.onopen?.({}), 0);
  }
  send(text) {
    const frame = JSON.parse(text);
    this.sent.push(frame);
    if (frame.type === 'hello') this.deliver({ type: 'welcome', account_id: 'a_1', heartbeat_s: 25 });
  }
  deliver(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  close() {
    setTimeout(() => this.onclose?.({ code: 1000, reason: '' }), 0);
  }
}

async function fakeFetch(url) {
  assert.match(String(url), /\/v1\/conversations\?/);
  return new Response(JSON.stringify({ conversations: [], next: null }), { status: 200 });
}

test('frames become events; duplicates and reordering are absorbed; a gap asks for a sync', async () => {
  const client = new AtdeskClient('http://gateway.test', {
    token: 't', accountId: 'a_1', WebSocket: FakeSocket, fetch: fakeFetch, storage: new MapStorage(),
  });
  const seen = record(client);
  await client.connect();
  const socket = FakeSocket.last;
  const message = (seq) => ({
    type: 'message',
    message: { conversation_id: 'c_1', seq, id: `m_${seq}`, client_id: `k${seq}`, text: `t${seq}`, sender: { id: 'a_2', role: 'agent' } },
  });
  for (const seq of [1, 1, 3, 3]) socket.deliver(message(seq));
  assert.deepEqual(seen.message.map((m) => m.seq), [1]);
  const syncs = socket.sent.filter((f) => f.type === 'sync');
  assert.deepEqual(syncs.map((f) => [f.conversation_id, f.after_seq]), [['c_1', 1]]); // one, for the gap
  socket.deliver(message(2)); // what the sync brings, then its end
  socket.deliver(message(3));
  socket.deliver({ type: 'synced', ref: syncs[0].ref, conversation_id: 'c_1', last_seq: 3 });
  assert.deepEqual(seen.message.map((m) => m.seq), [1, 2, 3]);

  socket.deliver({ type: 'notice', notice: { id: 'n_1', brand: 'acme', title: 'Outage', text: 'We are on it' } });
  socket.deliver({ type: 'rating_request', conversation_id: 'c_1', case: 1 });
  socket.deliver({ type: 'typing', conversation_id: 'c_1', account_id: 'a_2' });
  socket.deliver({ type: 'read', conversation_id: 'c_1', account_id: 'a_2', seq: 3 });
  socket.deliver({ type: 'something_new', x: 1 });
  assert.equal(seen.notice[0].title, 'Outage');
  assert.deepEqual(seen.rating_request, [{ conversation_id: 'c_1', case: 1 }]);
  assert.deepEqual(seen.typing, [{ conversation_id: 'c_1', account_id: 'a_2' }]);
  assert.deepEqual(seen.read, [{ conversation_id: 'c_1', account_id: 'a_2', seq: 3 }]);
  assert.equal(seen.other[0].type, 'something_new');

  // A listener that throws does not break delivery to the others or the bookkeeping.
  const originalError = console.error;
  console.error = () => {};
  try {
    client.on('message', () => { throw new Error('a buggy listener'); });
    socket.deliver(message(4));
  } finally {
    console.error = originalError;
  }
  await until(() => seen.message.length === 4);
  await client.close();
});
