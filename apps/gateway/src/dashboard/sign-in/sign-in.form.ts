import { Allow } from 'class-validator';
import { Rule } from '../../http/request-validation';

/** The sign-in form: an API key (its environment scopes the session) and where to go next. */
export class SignInForm {
  @Rule('isApiKey', (value) => (typeof value === 'string' && value.trim() !== '' ? undefined : 'Enter an API key.'))
  apiKey?: string;

  /** Only a path inside the dashboard is followed (see sign-in.controller). */
  @Allow()
  next?: unknown;
}
