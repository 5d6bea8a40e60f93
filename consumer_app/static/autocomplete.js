// New message (#/new): the "To" field, which searches the brand directory as one types and
// opens the chat with the brand picked.

import { normalizeHandle } from '/sdk/atdesk.js';
import { $, avatar, el, explain, verifiedMark } from './dom.js';
import { conversationWith } from './conversations.js';
import { handleLine } from './format.js';
import { go, showView } from './router.js';
import { accountClient, brands, state } from './state.js';

const SEARCH_DELAY_MS = 180;
const HINT = 'Search the brand directory by @handle or name.';

let searchTimer;
let searchSeq = 0;
let suggestionsShown = [];

export function openNew() {
  showView('view-new', 'New message');
  const input = $('to');
  input.value = '';
  renderSuggestions([]);
  $('to-status').textContent = HINT;
  input.focus();
}

export function onToInput() {
  clearTimeout(searchTimer);
  const query = normalizeHandle($('to').value);
  if (!query) {
    searchSeq += 1;
    renderSuggestions([]);
    $('to-status').textContent = HINT;
    return;
  }
  searchTimer = setTimeout(() => search(query), SEARCH_DELAY_MS);
}

/** @param {string} query */
async function search(query) {
  const mine = ++searchSeq;
  $('to-status').textContent = 'Searching…';
  try {
    const found = await accountClient().searchBrands(query, { limit: 8 });
    if (mine !== searchSeq) return; // a newer keystroke won
    for (const brand of found) brands.set(brand.handle, brand);
    renderSuggestions(found);
    $('to-status').textContent = found.length ? `${found.length} brand${found.length > 1 ? 's' : ''} found` : `No brand matches @${query}.`;
  } catch (error) {
    if (mine !== searchSeq) return;
    renderSuggestions([]);
    $('to-status').textContent = explain(error);
  }
}

/** @param {any[]} found */
function renderSuggestions(found) {
  suggestionsShown = found;
  const items = found.map((brand, index) => {
    const button = el('button', {
      class: 'suggestion',
      attrs: { type: 'button', role: 'option', id: `suggestion-${index}`, 'data-handle': brand.handle, 'aria-selected': 'false' },
    }, [
      avatar(brand),
      el('span', { class: 'suggestion-text' }, [
        el('span', { class: 'suggestion-name' }, [
          el('span', { text: brand.name ?? brand.handle }),
          brand.verified && verifiedMark(),
        ]),
        el('span', { class: 'suggestion-handle muted small', text: handleLine(brand) }),
      ]),
    ]);
    button.addEventListener('click', () => pick(brand.handle));
    const profile = el('a', {
      class: 'suggestion-profile', text: 'Profile',
      attrs: { href: `#/b/${encodeURIComponent(brand.handle)}`, 'aria-label': `Profile of @${brand.handle}` },
    });
    return el('li', { class: 'suggestion-row', attrs: { role: 'presentation' } }, [button, profile]);
  });
  $('brand-suggestions').replaceChildren(...items);
  $('to').setAttribute('aria-expanded', String(items.length > 0));
}

/** Picked a brand: its thread if there is one, else a new chat. @param {string} handle */
export function pick(handle) {
  const existing = conversationWith(handle);
  go(existing ? `#/c/${encodeURIComponent(existing.id)}` : `#/to/${encodeURIComponent(handle)}`);
}

/** @param {KeyboardEvent} event */
export function onToKey(event) {
  const options = [...$('brand-suggestions').querySelectorAll('.suggestion')];
  const current = options.findIndex((o) => o.getAttribute('aria-selected') === 'true');
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    if (!options.length) return;
    event.preventDefault();
    const next = event.key === 'ArrowDown' ? (current + 1) % options.length : (current - 1 + options.length) % options.length;
    options.forEach((o, i) => o.setAttribute('aria-selected', String(i === next)));
    $('to').setAttribute('aria-activedescendant', options[next].id);
  } else if (event.key === 'Enter') {
    event.preventDefault();
    const typed = normalizeHandle($('to').value);
    const chosen = suggestionsShown[current] ?? suggestionsShown.find((b) => b.handle === typed);
    if (chosen) {
      pick(chosen.handle);
    } else if (typed) {
      // Faster than the debounce: search now, and take the brand if it is the one typed.
      clearTimeout(searchTimer);
      search(typed).then(() => {
        const exact = suggestionsShown.find((b) => b.handle === typed) ?? (suggestionsShown.length === 1 ? suggestionsShown[0] : null);
        if (exact && state.route.name === 'new') pick(exact.handle);
      });
    }
  }
}
