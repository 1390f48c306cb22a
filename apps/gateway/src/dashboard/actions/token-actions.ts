import { JSON_OUTPUT_TYPE, MessageMetadata, TokenTransitionResult } from '@waitpoints/contracts';
import type { TokenServiceClient } from '../../transport/token-service.client';
import { prettyJson } from '../views/format';
import type { TokenDetailModel } from '../views/token-detail';
import { CancelTokenForm, CompleteTokenForm, TimeoutTokenForm, TokenActionForm } from './token-action-forms';

export type TokenActionName = 'complete' | 'timeout' | 'cancel';

/** The token an action is for, in the session's environment, and who acts. */
export interface ActionTarget {
  environment: string;
  tokenId: string;
  metadata: MessageMetadata;
}

/** One action of the token page: what it asks, what it carries, what it does (run by TokenActionFlow). */
export interface TokenAction<Form extends TokenActionForm> {
  name: TokenActionName;
  /** Shown on the token page after it changed the token. */
  done: string;
  /** The confirmation question (the dialog in the page asks the same, see token-detail.ts). */
  question(friendlyId: string): string;
  /** Form fields carried through the confirmation page. */
  carried(form: Form): Record<string, string>;
  preview?(form: Form): string;
  /** What the token page shows when the form was refused. */
  refused?(form: Form, problem: string): Partial<TokenDetailModel>;
  run(tokenService: TokenServiceClient, target: ActionTarget, form: Form): Promise<TokenTransitionResult>;
}

const complete: TokenAction<CompleteTokenForm> = {
  name: 'complete',
  done: 'Token completed. Its waiters resume with the payload as output.',
  question: (id) => `Complete ${id} with this payload? Its waiters resume with it as the output.`,
  carried: (form) => ({ data: form.draft }),
  preview: (form) => prettyJson(form.output),
  refused: (form, problem) => ({
    completeDraft: form.draft,
    completeError: problem,
    notice: { kind: 'error', message: `Not completed: ${problem}` },
  }),
  run: (tokenService, target, form) =>
    tokenService.completeToken({ ...target, output: form.output, outputType: JSON_OUTPUT_TYPE, channel: 'dashboard' }),
};

const timeout: TokenAction<TimeoutTokenForm> = {
  name: 'timeout',
  done: 'Token timed out now. Its waiters receive a timeout error.',
  question: (id) => `Time out ${id} now, before its deadline? Its waiters receive a timeout error.`,
  carried: () => ({}),
  run: (tokenService, target) => tokenService.timeoutToken({ ...target, force: true }),
};

const cancel: TokenAction<CancelTokenForm> = {
  name: 'cancel',
  done: 'Token cancelled. Its waiters receive a cancellation error.',
  question: (id) => `Cancel ${id}? Its waiters receive a cancellation error.`,
  carried: (form): Record<string, string> => (form.reasonText ? { reason: form.reasonText } : {}),
  run: (tokenService, target, form) => tokenService.cancelToken({ ...target, reason: form.reasonText }),
};

export const TOKEN_ACTIONS = { complete, timeout, cancel };

export const isTokenActionName = (value: unknown): value is TokenActionName =>
  typeof value === 'string' && Object.hasOwn(TOKEN_ACTIONS, value);
