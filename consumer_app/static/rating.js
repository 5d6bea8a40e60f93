// Rating a resolved case: the form under the chat, its stars, "Later", and the thanks.

import { ApiError } from '/sdk/atdesk.js';
import { $, busy, explain, missingEndpoint, showError } from './dom.js';
import { chatTarget, keepAtBottom } from './chat.js';
import { loadSet, ratedHere, remember, state } from './state.js';

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
export function renderRating(conversation, brand) {
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
export function onScore(event) {
  const button = event.target.closest('.rating-score');
  if (!button) return;
  ratingScore = Number(button.dataset.score);
  for (const other of $('rating').querySelectorAll('.rating-score')) {
    other.setAttribute('aria-pressed', String(Number(other.dataset.score) <= ratingScore));
    other.classList.toggle('chosen', Number(other.dataset.score) === ratingScore);
  }
  $('rating-submit').disabled = false;
}

/** The form gives way to a word of thanks (or why there is nothing to rate). @param {string} text */
function thank(text) {
  $('rating').hidden = true;
  $('rating-thanks').textContent = text;
  $('rating-thanks').hidden = false;
  keepAtBottom();
}

export async function onRate(event) {
  event.preventDefault();
  const { conversation } = chatTarget();
  const client = state.client;
  if (!conversation || !ratingScore || !client) return;
  const key = ratingKey(conversation);
  await busy($('rating-submit'), async () => {
    try {
      await client.rate(conversation.id, ratingScore, $('rating-comment').value.trim() || undefined);
      ratedHere.add(key);
      thank('Thanks for your rating!');
    } catch (error) {
      if (error instanceof ApiError && (error.code === 'already_rated' || error.code === 'not_resolved')) {
        // Not a failure to report: rated from another device, or the case reopened.
        if (error.code === 'already_rated') ratedHere.add(key);
        thank(error.code === 'already_rated'
          ? 'You have already rated this case. Thank you!'
          : 'This conversation is open again: you can rate it once it is resolved.');
      } else if (missingEndpoint(error)) {
        showError($('rating-error'), 'Ratings are not available on this gateway yet (POST /v1/conversations/{id}/rating is missing).');
      } else {
        showError($('rating-error'), explain(error));
      }
    }
  });
  if ($('rating').hidden) $('rating-submit').disabled = true;
}

export function onRateLater() {
  const { conversation } = chatTarget();
  if (conversation) remember('rating-later', ratingKey(conversation));
  $('rating').hidden = true;
}
