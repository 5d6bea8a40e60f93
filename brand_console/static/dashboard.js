// The dashboard (members): the brand's figures over the last 30 days, a chart of first
// response and satisfaction per day, each agent's figures and how well their estimates
// matched the customers' scores, and the latest customer comments beside them.

import { $, h, showError, duration, when } from './dom.js';
import { drawChart } from './chart.js';
import { client, state } from './state.js';

const DAYS_SHOWN = 30;
const NONE = 'not enough data yet';

/** A figure for people; null (no data) says so instead of a zero. */
export function csatText(csat) {
  return csat == null ? NONE : `${Math.round(csat * 100) / 100} / 5`;
}

function responseText(seconds) {
  return seconds == null ? NONE : duration(seconds);
}

function countText(count) {
  return count == null ? NONE : String(count);
}

export async function loadDashboardPage() {
  const handle = state.handle;
  showError($('#dashboard-error'), null);
  let stats;
  try {
    stats = await client.stats(handle, { days: DAYS_SHOWN });
  } catch (error) {
    showError($('#dashboard-error'), error);
    return;
  }
  if (state.handle !== handle || state.route.name !== 'dashboard') return;
  renderDashboard(stats);
}

export function renderDashboard(stats) {
  $('#dashboard-window').textContent = `@${stats.handle} · the last ${stats.window_days} days, measured by atdesk from real conversations.`;
  renderHeadline(stats.figures, stats.estimates);
  drawChart($('#chart-first-response'), stats.days, {
    name: 'Median first response', value: (day) => day.median_first_response_s,
    label: (seconds) => duration(seconds), min: 0,
  });
  drawChart($('#chart-csat'), stats.days, {
    name: 'Customer satisfaction', value: (day) => day.csat,
    label: (csat) => `${Math.round(csat * 100) / 100}`, min: 1, max: 5,
  });
  renderAgents(stats.agents);
  renderVerbatims(stats.comments);
}

function renderHeadline(figures, estimates) {
  const rows = [
    ['median_first_response_s', 'Median first response', responseText(figures.median_first_response_s), figures.median_first_response_s],
    ['csat', 'Customer satisfaction', csatText(figures.csat), figures.csat],
    ['rated_cases', 'Rated cases', countText(figures.rated_cases), figures.rated_cases],
    ['resolved_cases', 'Resolved cases', countText(figures.resolved_cases), figures.resolved_cases],
    ['mean_absolute_error', 'Agents’ estimates, mean error', estimates.mean_absolute_error == null ? NONE : `${round2(estimates.mean_absolute_error)} points over ${estimates.compared_cases} cases`, estimates.mean_absolute_error],
  ];
  $('#headline').replaceChildren(...rows.map(([key, term, text, value]) => h('div', { class: 'headline-figure' },
    h('dt', {}, term),
    h('dd', { class: text === NONE ? 'muted' : 'figure', dataset: { figure: key, value: value == null ? '' : String(value) } }, text))));
}

function round2(value) {
  return String(Math.round(value * 100) / 100);
}

function percent(share) {
  return share == null ? '–' : `${Math.round(share * 100)} %`;
}

function signed(bias) {
  if (bias == null) return '–';
  const rounded = Math.round(bias * 100) / 100;
  return rounded > 0 ? `+${rounded}` : String(rounded);
}

function renderAgents(agents) {
  const body = $('#agents tbody');
  if (!agents.length) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No agent has answered a case in this window.')));
    return;
  }
  body.replaceChildren(...agents.map(({ agent, figures, estimates }) => h('tr', {
    class: 'agent-row', dataset: { accountId: agent.id },
  },
  h('th', { scope: 'row', class: 'agent-name' }, agent.display_name || agent.id, agent.id === state.me.id ? h('span', { class: 'muted' }, ' (you)') : ''),
  h('td', { class: 'agent-first-response' }, figures.median_first_response_s == null ? '–' : duration(figures.median_first_response_s)),
  h('td', { class: 'agent-csat' }, figures.csat == null ? '–' : round2(figures.csat)),
  h('td', { class: 'agent-rated' }, String(figures.rated_cases)),
  h('td', { class: 'agent-resolved' }, String(figures.resolved_cases)),
  h('td', { class: 'agent-compared' }, String(estimates.compared_cases)),
  h('td', { class: 'agent-error' }, estimates.mean_absolute_error == null ? '–' : round2(estimates.mean_absolute_error)),
  h('td', { class: 'agent-exact' }, percent(estimates.exact_share)),
  h('td', { class: 'agent-bias' }, signed(estimates.bias)))));
}

function renderVerbatims(comments) {
  const list = $('#verbatims');
  if (!comments.length) {
    list.replaceChildren(h('li', { class: 'muted empty' }, 'No comments from customers yet.'));
    return;
  }
  list.replaceChildren(...comments.map((comment) => h('li', {
    class: `verbatim score-${comment.score}`, dataset: { conversationId: comment.conversation_id, case: String(comment.case) },
  },
  h('span', { class: 'verbatim-score', 'aria-label': `${comment.score} out of 5` }, `${'★'.repeat(comment.score)}${'☆'.repeat(5 - comment.score)} ${comment.score}/5`),
  h('p', { class: 'verbatim-comment' }, comment.comment),
  h('p', { class: 'verbatim-meta muted' },
    when(comment.created_at),
    comment.agent ? ` · resolved by ${comment.agent.display_name}` : '',
    ' · ', h('a', { href: `#/c/${encodeURIComponent(comment.conversation_id)}` }, `case ${comment.case}`)))));
}
