import { HttpException, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { toFriendlyTokenId } from '@waitpoints/contracts';
import { correlationIdOf } from '../../http/correlation-id';
import { problemsOf } from '../../http/request-validation';
import { TokenServiceClient } from '../../transport/token-service.client';
import { signedInSession } from '../signed-in.guard';
import { TokenDetails } from '../token-details';
import { DASHBOARD } from '../views/layout';
import { TokenDetailModel, confirmPage, tokenDetailPage } from '../views/token-detail';
import { TokenActionForm } from './token-action-forms';
import { TokenAction } from './token-actions';

export interface ActionRequest<Form extends TokenActionForm> {
  tokenId: string;
  form: Form;
  req: Request;
  res: Response;
}

/**
 * How every action of the token page goes (the session and the form's origin are checked by
 * the guards before): a refused form is shown again on the token page with why; an unconfirmed
 * one gets a confirmation page; a confirmed one runs, then redirects (POST → redirect → GET) to
 * the token page saying what happened. A refusal by the token (409, e.g. cancelling a completed
 * token) is shown on the token page too; anything else is the error page's.
 */
@Injectable()
export class TokenActionFlow {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly details: TokenDetails,
  ) {}

  async run<Form extends TokenActionForm>(action: TokenAction<Form>, request: ActionRequest<Form>): Promise<void> {
    const { req, res, tokenId, form } = request;
    const session = signedInSession(req);
    const friendlyId = toFriendlyTokenId(tokenId);
    const [problem] = problemsOf(form);
    if (problem !== undefined) {
      return this.showToken(request, 400, action.refused?.(form, problem) ?? { notice: { kind: 'error', message: problem } });
    }
    if (!form.isConfirmed) {
      res.type('html').send(
        confirmPage(session, {
          tokenId: friendlyId,
          action: action.name,
          question: action.question(friendlyId),
          fields: action.carried(form),
          preview: action.preview?.(form),
        }),
      );
      return;
    }
    const target = {
      environment: session.environment,
      tokenId,
      metadata: { correlationId: correlationIdOf(req), actor: { type: 'dashboard' as const, id: session.environment } },
    };
    try {
      const { changed } = await action.run(this.tokenService, target, form);
      res.redirect(303, `${DASHBOARD}/tokens/${friendlyId}?done=${action.name}&changed=${changed ? 1 : 0}`);
    } catch (error) {
      // Not found or the service is down: the error page says so.
      if (!(error instanceof HttpException) || error.getStatus() !== 409) throw error;
      await this.showToken(request, 409, { notice: { kind: 'error', message: messageOf(error) } });
    }
  }

  private async showToken({ req, res, tokenId }: ActionRequest<TokenActionForm>, status: number, shown: Partial<TokenDetailModel>) {
    const session = signedInSession(req);
    const model = await this.details.read(session, tokenId);
    res
      .status(status)
      .type('html')
      .send(tokenDetailPage(session, { ...model, ...shown }));
  }
}

function messageOf(error: HttpException): string {
  const body = error.getResponse();
  return typeof body === 'object' && body && typeof (body as { error?: unknown }).error === 'string'
    ? (body as { error: string }).error
    : error.message;
}
