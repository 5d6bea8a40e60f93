// The load tool: thousands of real WebSocket clients speaking ../shared/PROTOCOL.md.
//
//   node load.mjs '<json config>'
//
// Progress goes to stderr, one line a second; the result is one JSON object on stdout's
// last line. bench/run.py starts it once per scenario and target. It reports its own CPU
// (process.cpuUsage) and the servers' CPU and resident memory (/proc/<pid>) next to every
// figure, so a saturated load generator is never mistaken for a slow server.
//
// Targets ("kind"):
//   atdesk    the gateway: accounts, brands and tokens are made over HTTP first
//   relay     a baseline relay speaking the same frames (bench/relays): any token works;
//             "agent:<handle>" makes the socket one of that brand's agents
//   socketio  the python-socketio relay: the same frames as Socket.IO events named
//             "frame", spoken over a plain ws socket with Engine.IO v4 framing
//             (no socket.io-client: see bench/README.md)
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const config = JSON.parse(process.argv[2]);
const now = () => performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let clientIds = 0;
const newClientId = () => `c${process.pid}-${++clientIds}`;

function log(line) {
  process.stderr.write(`  [${config.label}] ${line}\n`);
}

// --- measuring ----------------------------------------------------------------------

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)] * 100) / 100;
}

function summary(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function procTicks(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in 1/100 s
  } catch {
    return 0;
  }
}

function rssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

// Busy ticks of the whole machine (all cores), in 1/100 s.
function machineTicks() {
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return user + nice + system + irq + softirq + steal;
}

// CPU over a phase, in % of one core: this process, the servers, and everything else on
// the machine (the machine is shared: a busy neighbour shows here, not as a slow server).
function cpuMeter() {
  const wall = now();
  const own = process.cpuUsage();
  const servers = (config.pids || []).map(procTicks);
  const machine = machineTicks();
  return () => {
    const seconds = (now() - wall) / 1000;
    const used = process.cpuUsage(own);
    const loadgen = ((used.user + used.system) / 1e6 / seconds) * 100;
    const server = (config.pids || []).map(
      (pid, i) => ((procTicks(pid) - servers[i]) / 100 / seconds) * 100,
    );
    const busy = ((machineTicks() - machine) / 100 / seconds) * 100;
    const others = busy - loadgen - server.reduce((a, b) => a + b, 0);
    return {
      loadgen_cpu_pct: Math.round(loadgen),
      server_cpu_pct: server.map(Math.round),
      others_cpu_pct: Math.max(0, Math.round(others)),
    };
  };
}

// --- HTTP setup (atdesk only) -------------------------------------------------------

async function http(method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(config.http_url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.ok) return text ? JSON.parse(text) : null;
    if (response.status === 429 && attempt < 20) {
      await sleep(250);
      continue;
    }
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  }
}

// Runs fn(0..count-1) with at most `parallel` at once.
async function batch(count, parallel, fn, what) {
  let next = 0;
  let done = 0;
  const started = now();
  const ticker = setInterval(() => log(`${what}: ${done}/${count}`), 1000);
  const results = new Array(count);
  async function worker() {
    while (next < count) {
      const i = next++;
      results[i] = await fn(i);
      done++;
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  } finally {
    clearInterval(ticker);
  }
  log(`${what}: ${count} in ${((now() - started) / 1000).toFixed(1)} s`);
  return results;
}

const PASSWORD = "bench password 1";
const run = Math.random().toString(36).slice(2, 8);

async function signUp(name) {
  const email = `${name}-${run}@bench.example.com`;
  await http("POST", "/v1/accounts", { email, password: PASSWORD, display_name: name });
  const session = await http("POST", "/v1/sessions", { email, password: PASSWORD });
  return session.token;
}

// Brand handles and the tokens of their agent sockets, and `accounts` consumer tokens.
async function setup(brands, accounts) {
  const handles = Array.from({ length: brands }, (_, i) => `bench${run}${i}`);
  if (config.kind !== "atdesk") {
    return {
      handles,
      agentTokens: handles.map((h) => `agent:${h}`),
      consumerTokens: Array.from({ length: accounts }, (_, i) => `consumer:${i}`),
    };
  }
  const agentTokens = await batch(
    brands,
    8,
    async (i) => {
      const token = await signUp(`owner${i}`);
      await http("POST", "/v1/brands", { handle: handles[i], name: `Bench ${i}` }, token);
      return token;
    },
    "brands",
  );
  const consumerTokens = await batch(accounts, 16, (i) => signUp(`consumer${i}`), "accounts");
  return { handles, agentTokens, consumerTokens };
}

// --- one client ---------------------------------------------------------------------

class Client {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.onFrame = () => {};
    this.ws = null;
  }

  // Resolves once the welcome frame has arrived.
  open() {
    return new Promise((resolve, reject) => {
      const socketio = config.kind === "socketio";
      const url = socketio ? `${this.url}/socket.io/?EIO=4&transport=websocket` : this.url;
      const ws = new WebSocket(url, { perMessageDeflate: Boolean(config.deflate) });
      this.ws = ws;
      let welcomed = false;
      const frame = (data) => {
        if (!welcomed) {
          if (data.type === "welcome") {
            welcomed = true;
            resolve(this);
          } else reject(new Error(`expected welcome, got ${JSON.stringify(data)}`));
          return;
        }
        this.onFrame(data);
      };
      ws.on("error", (error) => (welcomed ? null : reject(error)));
      ws.on("close", (code) => {
        if (!welcomed) reject(new Error(`closed ${code} before welcome`));
      });
      const hello = { type: "hello", token: this.token, client: "atdesk-bench/0.1" };
      if (!socketio) {
        ws.on("open", () => this.send(hello));
        ws.on("message", (data) => frame(JSON.parse(data)));
        return;
      }
      ws.on("message", (data) => {
        const text = data.toString();
        if (text.startsWith("42")) frame(JSON.parse(text.slice(2))[1]);
        else if (text === "2") ws.send("3"); // Engine.IO ping -> pong
        else if (text.startsWith("0")) ws.send("40"); // open -> connect namespace "/"
        else if (text.startsWith("40")) this.send(hello); // namespace connected
      });
    });
  }

  send(frame) {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(
      config.kind === "socketio" ? `42${JSON.stringify(["frame", frame])}` : JSON.stringify(frame),
    );
    return true;
  }

  drop() {
    this.ws.terminate();
  }
}

async function connectAll(urls, tokens, what, parallel = 100) {
  return batch(
    tokens.length,
    parallel,
    (i) => new Client(urls[i % urls.length], tokens[i]).open(),
    what,
  );
}

// --- throughput (and store: no steps, one agent per brand) ----------------------------

async function throughput() {
  const { handles, agentTokens, consumerTokens } = await setup(config.brands, config.consumers);
  // Several URLs (nodes): sockets are spread over them, round robin.
  const agents = await connectAll(
    config.agent_urls ?? [config.agent_url],
    handles.flatMap((_, i) => Array(config.agents_per_brand).fill(agentTokens[i])),
    "agent sockets",
  );
  const consumers = await connectAll(
    config.consumer_urls ?? [config.consumer_url],
    consumerTokens,
    "consumer sockets",
  );
  let phase = "warmup";
  let acked = 0;
  let delivered = 0;
  let errors = 0;
  let ackLatency = [];
  let deliveryLatency = [];
  const pending = new Map(); // client_id -> [consumer index, send time, phase]
  const inFlight = new Array(consumers.length).fill(0);
  let refill = null; // closed loop: a consumer sends its next message on each ack
  for (const agent of agents) {
    agent.onFrame = (frame) => {
      if (frame.type !== "message") return;
      const [tag, sent] = frame.message.text.split(" ");
      if (tag !== phase) return;
      delivered++;
      deliveryLatency.push(now() - Number(sent));
    };
  }
  consumers.forEach((consumer, index) => {
    consumer.conversation = null;
    consumer.routed = false;
    consumer.onFrame = (frame) => {
      if (frame.type === "conversation" && frame.conversation.assignee) consumer.routed = true;
      if (frame.type === "error") {
        errors++;
        if (errors < 5) log(`error frame: ${JSON.stringify(frame)}`);
        return;
      }
      if (frame.type !== "ack") return;
      const entry = pending.get(frame.client_id);
      if (entry === undefined) return;
      pending.delete(frame.client_id);
      inFlight[index]--;
      consumer.conversation = frame.conversation_id;
      if (entry[2] === phase) {
        acked++;
        ackLatency.push(now() - entry[1]);
      }
      if (refill) refill(index);
    };
  });
  const send = (index) => {
    const consumer = consumers[index];
    const clientId = newClientId();
    const t = now();
    const frame = { type: "send", client_id: clientId, text: `${phase} ${t.toFixed(3)}` };
    if (consumer.conversation) frame.conversation_id = consumer.conversation;
    else frame.to = `@${handles[index % handles.length]}`;
    pending.set(clientId, [index, t, phase]);
    inFlight[index]++;
    consumer.send(frame);
  };
  const settle = async (ms) => {
    const deadline = now() + ms;
    while (pending.size > 0 && now() < deadline) await sleep(20);
  };
  // Every consumer opens its conversation before anything is measured, and atdesk
  // routes each new case to an agent (in the background, after the ack): measured from
  // when that is done, the scenario is messages, not the opening of 500 cases at once.
  consumers.forEach((_, i) => send(i));
  await settle(60_000);
  if (pending.size > 0) throw new Error(`${pending.size} warm-up sends got no ack`);
  if (config.kind === "atdesk") {
    const deadline = now() + 60_000;
    while (consumers.some((c) => !c.routed) && now() < deadline) await sleep(20);
    const unrouted = consumers.filter((c) => !c.routed).length;
    if (unrouted > 0) log(`warm-up: ${unrouted} of ${consumers.length} cases not routed in 60 s`);
  }

  const measure = async (name, seconds, offered) => {
    phase = name;
    acked = delivered = errors = 0;
    ackLatency = [];
    deliveryLatency = [];
    const cpu = cpuMeter();
    const started = now();
    log(`${name}: measuring`); // bench/run.py's profile starts sampling on this line
    const ticker = setInterval(() => {
      const s = (now() - started) / 1000;
      log(
        `${name}: ${s.toFixed(0)}/${seconds} s, ${Math.round(acked / s)} acks/s, ` +
          `${Math.round(delivered / config.agents_per_brand / s)} delivered msgs/s`,
      );
    }, 1000);
    let pacer = null;
    if (offered === null) {
      // Closed loop: each consumer keeps `window` sends in flight.
      refill = (i) => {
        if (phase === name && inFlight[i] < config.window) send(i);
      };
      for (let i = 0; i < consumers.length; i++) {
        for (let w = 0; w < config.window; w++) send(i);
      }
    } else {
      // Open loop: `offered` sends a second, round robin over the consumers.
      let sent = 0;
      let next = 0;
      pacer = setInterval(() => {
        const due = Math.floor(((now() - started) / 1000) * offered) - sent;
        for (let k = 0; k < due; k++) {
          send(next);
          next = (next + 1) % consumers.length;
        }
        sent += Math.max(0, due);
      }, 2);
    }
    await sleep(seconds * 1000);
    const elapsed = (now() - started) / 1000;
    const usage = cpu();
    const result = {
      phase: name,
      offered_per_s: offered === null ? null : Math.round(offered),
      seconds: Math.round(elapsed * 10) / 10,
      acked_per_s: Math.round(acked / elapsed),
      delivered_per_s: Math.round(delivered / config.agents_per_brand / elapsed),
      errors,
      send_to_ack_ms: summary(ackLatency),
      send_to_delivery_ms: summary(deliveryLatency),
      ...usage,
    };
    clearInterval(ticker);
    clearInterval(pacer);
    refill = null;
    phase = `${name}-drain`;
    await settle(10_000);
    pending.clear();
    inFlight.fill(0);
    await sleep(200);
    return result;
  };

  const max = await measure("max", config.max_seconds, null);
  const rate = Math.min(max.acked_per_s, max.delivered_per_s);
  const steps = [];
  for (const fraction of config.steps) {
    const step = await measure(`at${Math.round(fraction * 100)}`, config.step_seconds, rate * fraction);
    steps.push({ fraction, ...step });
  }
  for (const client of [...agents, ...consumers]) client.drop();
  return { max, steps };
}

// --- idle capacity ------------------------------------------------------------------

async function idle() {
  const accounts = Math.min(config.sockets, config.accounts);
  const { handles, agentTokens, consumerTokens } = await setup(1, accounts);
  const pid = config.pids[0];
  await sleep(500);
  const before = rssKiB(pid);
  const agent = await new Client(config.consumer_url, agentTokens[0]).open();
  const tokens = Array.from({ length: config.sockets - 1 }, (_, i) => consumerTokens[i % accounts]);
  const cpu = cpuMeter();
  const ramp = now();
  const sockets = await connectAll([config.consumer_url], tokens, "idle sockets", 200);
  const rampSeconds = (now() - ramp) / 1000;
  const rampCpu = cpu();
  await sleep(2000);
  const after = rssKiB(pid);
  // A message to one of them while they all sit there: consumer 0 writes, the agent reads.
  const probe = sockets[0];
  const latencies = [];
  let conversation = null;
  agent.onFrame = (frame) => {
    if (frame.type === "message" && frame.message.text.startsWith("probe ")) {
      latencies.push(now() - Number(frame.message.text.split(" ")[1]));
    }
  };
  probe.onFrame = (frame) => {
    if (frame.type === "ack") conversation = frame.conversation_id;
  };
  const probeCpu = cpuMeter();
  for (let i = 0; i < config.probes; i++) {
    const frame = { type: "send", client_id: newClientId(), text: `probe ${now().toFixed(3)}` };
    if (conversation) frame.conversation_id = conversation;
    else frame.to = `@${handles[0]}`;
    probe.send(frame);
    await sleep(i === 0 ? 200 : 1000 / config.probe_rate);
  }
  await sleep(1000);
  const result = {
    sockets: sockets.length + 1,
    accounts,
    ramp_seconds: Math.round(rampSeconds * 10) / 10,
    ramp_sockets_per_s: Math.round(sockets.length / rampSeconds),
    ramp_loadgen_cpu_pct: rampCpu.loadgen_cpu_pct,
    rss_before_kib: before,
    rss_after_kib: after,
    rss_per_socket_kib: Math.round(((after - before) / (sockets.length + 1)) * 10) / 10,
    probe_send_to_delivery_ms: summary(latencies.slice(1)), // the first opens the conversation
    probes_lost: config.probes - latencies.length,
    deflate_negotiated: (agent.ws.extensions || "").includes("permessage-deflate"),
    ...probeCpu(),
  };
  for (const client of [agent, ...sockets]) client.drop();
  return result;
}

// --- reconnect storm ----------------------------------------------------------------

async function storm() {
  const { handles, agentTokens, consumerTokens } = await setup(config.brands, config.clients);
  const agents = await connectAll([config.consumer_url], agentTokens, "agent sockets");
  let clients = await connectAll([config.consumer_url], consumerTokens, "client sockets", 200);
  const state = clients.map(() => ({ conversation: null, last: 0, expected: 0 }));
  const track = (client, i) => {
    client.onFrame = (frame) => {
      const s = state[i];
      if (frame.type === "ack") {
        s.conversation = frame.conversation_id;
        s.last = Math.max(s.last, frame.seq);
      } else if (frame.type === "message" && frame.message.seq === s.last + 1) {
        s.last = frame.message.seq; // in order, without gaps: anything else is not caught up
      } else if (frame.type === "synced") s.synced = true;
    };
  };
  clients.forEach(track);
  clients.forEach((client, i) =>
    client.send({
      type: "send",
      client_id: newClientId(),
      to: `@${handles[i % handles.length]}`,
      text: "hello",
    }),
  );
  const waitFor = async (test, ms, what) => {
    const deadline = now() + ms;
    while (!test() && now() < deadline) await sleep(20);
    if (!test()) throw new Error(`timed out waiting for ${what}`);
  };
  await waitFor(() => state.every((s) => s.conversation), 120_000, "the first acks");
  log(`all ${clients.length} clients hold a conversation; dropping them all at once`);
  for (const client of clients) client.drop();
  // While they are away the agents answer each one: messages they must catch up on.
  let answered = 0;
  const seqs = new Map();
  agents.forEach((agent) => {
    agent.onFrame = (frame) => {
      if (frame.type === "ack" && seqs.has(frame.client_id)) {
        state[seqs.get(frame.client_id)].expected = frame.seq;
        answered++;
      }
    };
  });
  await batch(
    clients.length,
    200,
    async (i) => {
      const clientId = newClientId();
      seqs.set(clientId, i);
      const agent = agents[i % handles.length];
      for (let m = 0; m < config.missed; m++) {
        agent.send({
          type: "send",
          client_id: m === config.missed - 1 ? clientId : newClientId(),
          conversation_id: state[i].conversation,
          text: `while you were away ${m}`,
        });
      }
    },
    "answers while away",
  );
  await waitFor(() => answered === clients.length, 120_000, "the answers' acks");
  const missed = state.reduce((sum, s) => sum + s.expected - s.last, 0);
  log(`${missed} messages missed; all ${clients.length} reconnect now`);
  const cpu = cpuMeter();
  const started = now();
  let reconnected = 0;
  const caughtUp = new Array(clients.length).fill(null);
  const ticker = setInterval(() => {
    const done = caughtUp.filter((t) => t !== null).length;
    log(`storm: ${reconnected} reconnected, ${done}/${clients.length} caught up`);
  }, 1000);
  const check = (i) => {
    const s = state[i];
    if (caughtUp[i] === null && s.synced && s.last >= s.expected) caughtUp[i] = now() - started;
  };
  clients = await Promise.all(
    consumerTokens.map(async (token, i) => {
      const client = new Client(config.consumer_url, token);
      for (let attempt = 0; ; attempt++) {
        try {
          await client.open();
          break;
        } catch (error) {
          if (attempt >= 20) throw error;
          await sleep(50 + Math.random() * 200 * (attempt + 1)); // jittered backoff
        }
      }
      reconnected++;
      track(client, i);
      const onFrame = client.onFrame;
      client.onFrame = (frame) => {
        onFrame(frame);
        check(i);
      };
      const s = state[i];
      client.send({ type: "sync", ref: "s", conversation_id: s.conversation, after_seq: s.last });
      return client;
    }),
  );
  const deadline = now() + config.timeout_s * 1000;
  while (caughtUp.includes(null) && now() < deadline) await sleep(20);
  clearInterval(ticker);
  const usage = cpu();
  const times = caughtUp.filter((t) => t !== null);
  const lost = state.reduce((sum, s) => sum + Math.max(0, s.expected - s.last), 0);
  for (const client of [...agents, ...clients]) client.drop();
  return {
    clients: clients.length,
    missed_messages: missed,
    caught_up: times.length,
    all_caught_up_s:
      times.length === clients.length ? Math.round(Math.max(...times)) / 1000 : null,
    caught_up_ms: summary(times),
    lost,
    ...usage,
  };
}

const scenarios = { throughput, idle, storm };
try {
  const result = await scenarios[config.scenario]();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (error) {
  process.stderr.write(`load tool failed: ${error.stack}\n`);
  process.exit(1);
}
