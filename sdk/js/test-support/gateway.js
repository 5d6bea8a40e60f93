// A real gateway for the tests: `python -m gateway.cli serve` in a child process on a free
// port of 127.0.0.1, with its SQLite database in a temporary directory. Kept out of test/
// because `node --test test/` runs every .js file there as a test file.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PYTHON = process.env.ATDESK_PYTHON ?? resolve(SDK_DIR, '../../.venv/bin/python');

// As tests/gateway_process.py: fast password hashing, and limits so high that the tests
// measure behaviour, not rate limiting.
const TEST_ENV = {
  ATDESK_PASSWORD_TIME_COST: '1',
  ATDESK_PASSWORD_MEMORY_KIB: '8192',
  ATDESK_SEND_RATE: '100000',
  ATDESK_SEND_BURST: '100000',
  ATDESK_FRAME_RATE: '100000',
  ATDESK_FRAME_BURST: '100000',
  ATDESK_LOGIN_ATTEMPTS_PER_MINUTE: '1000',
};

function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (probe.address());
      probe.close(() => done(port));
    });
  });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export class Gateway {
  /** Start one in a new temporary directory. */
  static async start(env = {}) {
    const gateway = new Gateway(await mkdtemp(join(tmpdir(), 'atdesk-js-')), await freePort(), env);
    await gateway.start();
    return gateway;
  }

  constructor(dir, port, env) {
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.logPath = join(dir, 'gateway.log');
    this.env = {
      ...process.env,
      ...TEST_ENV,
      ATDESK_DATABASE_URL: `sqlite:///${join(dir, 'a.sqlite3')}`,
      ...env,
    };
    /** @type {import('node:child_process').ChildProcess|null} */
    this.process = null;
  }

  /** Start (or start again: same port, same database) and wait for /healthz. */
  async start() {
    const log = createWriteStream(this.logPath, { flags: 'a' });
    await new Promise((done) => log.once('open', done));
    const child = spawn(
      PYTHON,
      ['-m', 'gateway.cli', 'serve', '--port', String(this.port), '--log-level', 'warning'],
      { cwd: this.dir, env: this.env, stdio: ['ignore', log, log] },
    );
    this.process = child;
    child.exited = new Promise((done) => child.once('exit', done));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`gateway exited at start:\n${this.log()}`);
      }
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`gateway did not start:\n${this.log()}`);
  }

  /** SIGKILL: no shutdown code runs, as in a crash. */
  async kill() {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await child.exited;
  }

  async stop() {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000); // a stop that hangs
    await child.exited;
    clearTimeout(timer);
  }

  async destroy() {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }
}

// --- plain HTTP, as a third-party client would call it (not through the SDK) -------------

export async function call(url, method, path, { token, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(url + path, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export const unique = (prefix) => `${prefix}${randomBytes(5).toString('hex')}`;

/** A new account, signed in: {account_id, email, token}. */
export async function signUp(url, name = 'user') {
  const email = `${unique(name)}@example.com`;
  await call(url, 'POST', '/v1/accounts', { body: { email, password: 'correct horse', display_name: name } });
  const session = await call(url, 'POST', '/v1/sessions', { body: { email, password: 'correct horse' } });
  return { account_id: session.account_id, email, token: session.token };
}

/** A brand with an agent, and a consumer. */
export async function desk(url) {
  const [owner, agent, consumer] = await Promise.all(['owner', 'agent', 'lea'].map((n) => signUp(url, n)));
  const handle = unique('b');
  await call(url, 'POST', '/v1/brands', { token: owner.token, body: { handle, name: `Brand ${handle}` } });
  await call(url, 'POST', `/v1/brands/${handle}/members`, { token: owner.token, body: { email: agent.email, role: 'agent' } });
  return { owner, agent, consumer, handle };
}

/** A conversation's whole history over plain HTTP. */
export async function history(url, token, conversationId) {
  const page = await call(url, 'GET', `/v1/conversations/${conversationId}/messages?after_seq=0&limit=500`, { token });
  return page.messages;
}

/** Wait for `condition`; the timeout only guards against a hang. */
export async function until(condition, timeoutMs = 30_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Everything a client emits, by type, in order. */
export function record(client) {
  const seen = { all: [] };
  for (const type of ['message', 'conversation', 'read', 'typing', 'notice', 'rating_request',
    'connected', 'disconnected', 'send_failed', 'failed', 'other']) {
    seen[type] = [];
    client.on(type, (payload) => {
      seen[type].push(payload);
      seen.all.push({ type, payload });
    });
  }
  return seen;
}

/** A Storage-like object over a Map, as localStorage is in a browser. */
export class MapStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.map.delete(key);
  }
}

export { sleep };
