// Sign in, sign up and sign out: the account forms before and after a session.

import { ApiError, AuthError } from '/sdk/atdesk.js';
import { $, busy, explain, showError } from './dom.js';
import { showView } from './router.js';
import { setConnection, start, stop } from './session.js';
import { accountClient, state } from './state.js';

export function showSignIn(message = null) {
  showView('view-signin', 'atdesk');
  setConnection('signed-out');
  showError($('signin-error'), message);
  $('signin-email').focus();
}

export function showSignUp() {
  showView('view-signup', 'atdesk');
  $('signup-email').value ||= $('signin-email').value;
  $('signup-name').focus();
}

export async function onSignIn(event) {
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

export async function onSignUp(event) {
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

export async function onSignOut() {
  state.signingOut = true;
  try {
    await state.client?.signOut();
  } catch (error) {
    if (!(error instanceof AuthError)) {
      state.signingOut = false;
      showError($('threads-error'), `Could not sign out: ${explain(error)}`);
      return;
    }
  }
  await stop();
  state.signingOut = false;
  history.replaceState(null, '', '#/threads');
  showSignIn();
}
