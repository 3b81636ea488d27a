/**
 * The sign-in form: one form for signing in and for creating an account, in two steps so that a
 * typo in a name never creates an account silently. The first submit signs in only
 * (`"create": false`); when the server knows no such name the form says "No account named X.
 * Create it?", the password field becomes a new password (`autocomplete="new-password"`) and the
 * button "Create account"; the next submit registers. Changing the name goes back to signing in.
 * An error is tied to the field it is about (`aria-describedby`, `aria-invalid`).
 */

const SIGN_IN = 'Sign in';
const CREATE = 'Create account';

export class SignInForm {
  /** `onSubmit(username, password, create)`: create is true once the person confirmed a new name. */
  constructor(doc, onSubmit) {
    this.$ = (id) => doc.getElementById(id);
    this.creating = null; // the name the person agreed to create, or null while signing in
    this.$('signin-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const name = this.$('signin-username').value.trim();
      onSubmit(name, this.$('signin-password').value, this.creating === name);
    });
    this.$('signin-username').addEventListener('input', () => {
      if (this.creating !== null) this.signInMode();
    });
  }

  /** Show the form asking to sign in, with `message` (about no one field) if any; focus on the name. */
  reset(message = '') {
    this.signInMode();
    this.setError(message);
    this.setBusy(false);
    this.$('signin-password').value = '';
    this.$('signin-username').focus();
  }

  signInMode() {
    this.creating = null;
    this.$('signin-password').autocomplete = 'current-password';
    this.$('signin-submit').textContent = SIGN_IN;
    this.$('signin-create').hidden = true;
    this.setError('');
  }

  /** The server knows no `name`: offer to create it; the next submit registers it. */
  offerToCreate(name) {
    this.creating = name;
    this.$('signin-password').autocomplete = 'new-password';
    this.$('signin-submit').textContent = CREATE;
    this.$('signin-create-name').textContent = name;
    this.$('signin-create').hidden = false;
    this.setError('');
    this.setBusy(false);
    this.$('signin-submit').focus();
  }

  /** Show `message` as the form's error, described by `field` ('username' or 'password') if any. */
  setError(message, field = null) {
    this.$('signin-error').textContent = message;
    for (const name of ['username', 'password']) {
      const input = this.$(`signin-${name}`);
      const tied = Boolean(message) && name === field;
      if (tied) {
        input.setAttribute('aria-describedby', 'signin-error');
        input.setAttribute('aria-invalid', 'true');
      } else {
        input.removeAttribute('aria-describedby');
        input.removeAttribute('aria-invalid');
      }
    }
    if (message && field) this.$(`signin-${field}`).focus();
  }

  setBusy(busy) {
    this.$('signin-submit').disabled = busy;
  }
}
