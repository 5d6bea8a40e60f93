// The members page: owners and admins add agents by email, change roles, remove.

import { ApiError } from '/sdk/atdesk.js';
import { $, h, show, showError } from './dom.js';
import { brandMembers, canManage, client, state } from './state.js';
import { fillAssignees } from './thread.js';

export async function loadMembersPage() {
  const handle = state.handle;
  const manage = canManage();
  $('#members-note').textContent = manage
    ? `People who answer for @${handle}. Owners and admins manage members; agents answer customers.`
    : `People who answer for @${handle}. Only owners and admins can change this list.`;
  show($('#member-form'), manage);
  showError($('#member-error'), null);
  try {
    renderMembers(await brandMembers(handle, { fresh: true }));
  } catch (error) {
    showError($('#member-error'), error);
  }
}

export function renderMembers(members) {
  const manage = canManage();
  const order = { owner: 0, admin: 1, agent: 2 };
  const rows = [...members]
    .sort((a, b) => order[a.role] - order[b.role] || a.display_name.localeCompare(b.display_name))
    .map((member) => {
      const editable = manage && member.role !== 'owner';
      const roleCell = editable
        ? h('select', {
          class: 'member-role-select',
          'aria-label': `Role of ${member.display_name}`,
          onchange: (event) => changeRole(member, event.target.value),
        }, ...['agent', 'admin'].map((r) => {
          const option = h('option', { value: r }, r);
          option.selected = r === member.role;
          return option;
        }))
        : h('span', { class: `role-badge role-${member.role}` }, member.role);
      const actions = editable && member.account_id !== state.me.id
        ? h('button', { type: 'button', class: 'member-remove danger', 'aria-label': `Remove ${member.display_name}`, onclick: () => removeMember(member) }, 'Remove')
        : '';
      return h('tr', { class: 'member', dataset: { accountId: member.account_id } },
        h('td', { class: 'member-name' }, member.display_name, member.account_id === state.me.id ? h('span', { class: 'muted' }, ' (you)') : ''),
        h('td', { class: 'member-email' }, member.email ?? ''),
        h('td', { class: 'member-role' }, roleCell),
        h('td', { class: 'member-actions' }, actions));
    });
  $('#members tbody').replaceChildren(...rows);
}

export async function membersChanged() {
  renderMembers(await brandMembers(state.handle, { fresh: true }));
  if (state.thread) fillAssignees(state.conversations.get(state.thread.id)?.brand.handle ?? state.handle);
}

export async function addMember(event) {
  event.preventDefault();
  const email = $('#member-email').value.trim();
  const role = $('#member-role').value;
  showError($('#member-error'), null);
  if (!email) {
    showError($('#member-error'), 'Enter the email of an atdesk account.');
    return;
  }
  $('#member-add').disabled = true;
  try {
    await client.putMember(state.handle, email, role);
    $('#member-email').value = '';
    await membersChanged();
  } catch (error) {
    showError($('#member-error'), error instanceof ApiError && error.code === 'unknown_account'
      ? `No atdesk account uses ${email}: they must sign up first.`
      : error);
  } finally {
    $('#member-add').disabled = false;
  }
}

export async function changeRole(member, newRole) {
  showError($('#member-error'), null);
  try {
    await client.putMember(state.handle, member.email, newRole);
    await membersChanged();
  } catch (error) {
    showError($('#member-error'), error);
    await membersChanged().catch(() => {});
  }
}

export async function removeMember(member) {
  showError($('#member-error'), null);
  try {
    await client.removeMember(state.handle, member.account_id);
    await membersChanged();
  } catch (error) {
    showError($('#member-error'), error);
  }
}
