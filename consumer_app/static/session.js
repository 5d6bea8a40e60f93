// The signed-in session: make the client, listen to it, say whether it is connected, and
// end it (signed out, or the session ended on the gateway).

import { AtdeskClient, AuthError, Backoff } from '/sdk/atdesk.js';
import { $, explain } from './dom.js';
import { showSignIn } from './auth.js';
import { retryFailedHistory } from './chat.js';
import { refreshConversations } from './conversations.js';
import { onConversation, onMessage, onRatingRequest, onRead, onTyping } from './live.js';
import { dismissNotice, onNotice } from './notices.js';
import { onRoute, scheduleRender } from './router.js';
import { CLIENT_NAME, accountClient, forgetAccount, state } from './state.js';

const stopListening = [];

/** Signed in (the cookie is set): make the client, connect, show the route. */
export async function start() {
  const me = await accountClient().me();
  state.me = me;
  state.followed = new Set(me.following ?? []);
  const client = new AtdeskClient(location.origin, {
    session: 'cookie',
    clientName: CLIENT_NAME,
    accountId: me.id,
    // A phone app should come back quickly after a short outage: cap the waits at 5 s.
    backoff: new Backoff({ initialMs: 400, maximumMs: 5000 }),
  });
  state.client = client;
  const on = (type, listener) => stopListening.push(client.on(type, listener));
  on('message', onMessage);
  on('conversation', onConversation);
  on('read', onRead);
  on('typing', onTyping);
  on('notice', onNotice);
  on('rating_request', onRatingRequest);
  on('connected', () => {
    setConnection('online');
    refreshConversations();
    retryFailedHistory();
  });
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

export async function stop() {
  for (const stopOne of stopListening.splice(0)) stopOne();
  await state.client?.close();
  forgetAccount();
  $('threads').replaceChildren();
  $('messages').replaceChildren();
  dismissNotice();
}

export async function onFailed(error) {
  if (state.signingOut || !state.client) return;
  await stop();
  showSignIn(error instanceof AuthError ? 'Your session has ended. Please sign in again.' : explain(error));
}

/** @param {'online'|'offline'|'signed-out'} connection */
export function setConnection(connection) {
  const node = $('connection');
  const live = connection === 'online' && state.client?.state === 'connected';
  node.textContent = live ? 'online' : connection === 'signed-out' ? 'offline' : 'offline · reconnecting…';
  node.classList.toggle('is-online', live);
  node.classList.toggle('is-offline', !live);
  node.hidden = connection === 'signed-out';
  scheduleRender(); // pending messages say whether they wait for the network
}
