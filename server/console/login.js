// The sign-in form, shown at start without a session and whenever the session ends.

import { state } from './state.js';
import { t, h, replace, $ } from './ui.js';
import { api } from './api.js';
import { renderShell } from './shell.js';

// onSignedIn: what comes after a successful login (app.js: start the console)
export function showLogin(message, onSignedIn) {
  clearInterval(state.pollTimer);
  state.view = null;
  renderShell();
  const user = h('input', { class: 'input', id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { class: 'input', id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { class: message ? 'alert alert-warn' : 'alert', role: 'alert', hidden: !message }, message || '');
  const form = h('form', {
    class: 'login-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      msg.hidden = true;
      try {
        await api('POST', '/api/login', { username: user.value.trim(), password: pass.value });
        pass.value = '';
        await onSignedIn();
      } catch (e) {
        msg.className = 'alert alert-error';
        msg.textContent = e.status === 429 ? t('login_throttled') : e.status === 401 ? t('login_failed') : e.message;
        msg.hidden = false;
      }
    },
  },
  h('h1', {}, t('login_title')),
  h('p', { class: 'muted' }, t('login_intro')),
  msg,
  h('label', { for: 'login-user' }, t('username')), user,
  h('label', { for: 'login-pass' }, t('password')), pass,
  h('button', { type: 'submit', class: 'button primary', id: 'login-submit' }, t('login_button')));
  replace($('#main'), h('div', { class: 'login' }, form));
  user.focus();
}
