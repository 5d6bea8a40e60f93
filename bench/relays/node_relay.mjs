// Baseline (c): a Node `ws` relay, the limit of this machine. No auth, no storage: hello is
// welcomed whatever the token ("agent:<handle>" joins that brand's agents), a send is acked
// at once and its message frame, serialized once, goes to the brand's agent sockets.
//
//   node node_relay.mjs PORT
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
const agents = new Map(); // handle -> Set of sockets
let seq = 0;

const server = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
server.on("connection", (ws) => {
  let account = null;
  ws.on("close", () => {
    if (account?.startsWith("agent:")) agents.get(account.slice(6))?.delete(ws);
  });
  ws.on("message", (data) => {
    const frame = JSON.parse(data);
    if (frame.type === "hello") {
      account = String(frame.token);
      if (account.startsWith("agent:")) {
        const handle = account.slice(6);
        if (!agents.has(handle)) agents.set(handle, new Set());
        agents.get(handle).add(ws);
      }
      ws.send(JSON.stringify({ type: "welcome", account_id: account, heartbeat_s: 25 }));
    } else if (frame.type === "send") {
      const handle = frame.to ? frame.to.slice(1) : frame.conversation_id;
      const createdAt = new Date().toISOString();
      seq += 1;
      const ack = { type: "ack", client_id: frame.client_id, conversation_id: handle, seq,
        id: `m${seq}`, created_at: createdAt };
      if (frame.ref !== undefined) ack.ref = frame.ref;
      ws.send(JSON.stringify(ack));
      const message = JSON.stringify({ type: "message", message: { conversation_id: handle, seq,
        id: `m${seq}`, client_id: frame.client_id,
        sender: { id: account, role: "consumer", display_name: account },
        text: frame.text, created_at: createdAt } });
      for (const agent of agents.get(handle) ?? []) agent.send(message);
    }
  });
});
server.on("listening", () => process.stderr.write(`node relay on ${port}\n`));
