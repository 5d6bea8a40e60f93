// The atdesk consumer app: a small mobile-first client on the JavaScript SDK.
//
// One page, hash routes (#/threads, #/new, #/c/<id>, #/to/<handle>, #/b/<handle>), no build
// step. The page's CSP allows no inline script or style, and message text only ever goes
// into the page through textContent: nothing typed by anyone is parsed as HTML.
//
// This entry module wires the page's static controls and starts the session; routing is in
// router.js, and each view lives in its own module.

import { AuthError } from '/sdk/atdesk.js';
import { $, explain } from './dom.js';
import { onSignIn, onSignOut, onSignUp, showSignIn, showSignUp } from './auth.js';
import { onToInput, onToKey } from './autocomplete.js';
import { onCompose, onComposeInput, onComposeKey } from './composer.js';
import { dismissNotice, openNotice } from './notices.js';
import { onFollow, onMessageBrand } from './profile.js';
import { onRate, onRateLater, onScore } from './rating.js';
import { go, onBack, onHashChange, scheduleRender } from './router.js';
import { start } from './session.js';

function wire() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('signup-form').addEventListener('submit', onSignUp);
  $('show-signup').addEventListener('click', showSignUp);
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
  $('notice-dismiss').addEventListener('click', dismissNotice);
  $('notice-open').addEventListener('click', openNotice);
  window.addEventListener('hashchange', onHashChange);
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
