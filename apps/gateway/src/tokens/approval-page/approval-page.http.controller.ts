import { Body, Get, HttpException, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  APPROVAL_LIMITS,
  ApprovalOutput,
  ApprovalRequest,
  ErrorCode,
  JSON_OUTPUT_TYPE,
  TokenView,
  WaitpointError,
  isInternalTokenId,
  toInternalTokenId,
} from '@waitpoints/contracts';
import { ApprovalSignature } from '../../auth/approval-signature';
import { DASHBOARD_OPTIONS, DashboardOptions } from '../../dashboard/dashboard-http';
import { correlationIdOf } from '../../http/correlation-id';
import { RateLimits } from '../../http/rate-limits';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { approvalPath } from '../token-links';
import { TokenApiController } from '../token-request';
import { crossSiteProblem, sendApprovalPage } from './approval-page.http';
import { approvalFinishedPage, approvalFormPage, approvalMessagePage } from './approval-page.view';

type ApprovalToken = TokenView & { approval: ApprovalRequest };

/** What the approval form posts (application/x-www-form-urlencoded). */
interface ApprovalForm {
  csrf?: unknown;
  decision?: unknown;
  comment?: unknown;
}

const NOT_FOUND = () => approvalMessagePage('Link not valid', 'This approval link is not valid. Check that you copied all of it.');

/**
 * `…/tokens/:id/approval/:hash`: a token's approval page. The hash is the credential (see
 * ApprovalSignature), like a callback URL's, but for this page only. GET never changes
 * anything (mail scanners and link previews fetch links): it shows the page. The form's POST,
 * with its form token, approves or rejects: the token is completed with `{ approved, comment? }`
 * through the channel `approval_page`. Once the token is finished, both show what happened.
 */
@TokenApiController()
export class ApprovalPageHttpController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly signature: ApprovalSignature,
    private readonly limits: RateLimits,
    @Inject(DASHBOARD_OPTIONS) private readonly options: DashboardOptions,
  ) {}

  @Get(':id/approval/:hash')
  @TokenRouteDocs.approvalPage()
  async show(@Param('id') id: string, @Param('hash') hash: string, @Res() res: Response): Promise<void> {
    await this.answer(res, async () => {
      const token = await this.tokenFor(id, hash);
      if (!token) return [404, NOT_FOUND()];
      return [200, this.render(token)];
    });
  }

  @Post(':id/approval/:hash')
  @TokenRouteDocs.approvalSubmit()
  async submit(
    @Param('id') id: string,
    @Param('hash') hash: string,
    @Body() form: ApprovalForm | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.answer(res, async () => {
      const token = await this.tokenFor(id, hash);
      if (!token) return [404, NOT_FOUND()];
      const crossSite = crossSiteProblem(req, this.options.publicUrl);
      if (crossSite) return [403, approvalMessagePage('Form refused', `${crossSite} Open the approval link again and answer there.`)];
      if (!this.signature.verifyFormToken(token.id, form?.csrf)) {
        return [
          403,
          approvalMessagePage(
            'Form refused',
            'The form is missing its security token or it is not valid. Open the approval link again and answer there.',
          ),
        ];
      }
      // A second submit (or a token finished meanwhile) changes nothing: the page shows the final state.
      if (token.status !== 'WAITING') return [200, this.render(token)];

      const decision = form?.decision;
      const comment = typeof form?.comment === 'string' ? form.comment.replace(/\r\n/g, '\n').trim() : '';
      const problem =
        decision !== 'approve' && decision !== 'reject'
          ? 'Choose approve or reject.'
          : comment.length > APPROVAL_LIMITS.comment
            ? `The comment must be at most ${APPROVAL_LIMITS.comment} characters (it has ${comment.length}).`
            : comment.includes('\u0000')
              ? 'The comment contains a NUL character.'
              : token.approval.commentRequired && comment === ''
                ? 'A comment is required: write why before you choose.'
                : undefined;
      if (problem) return [400, this.render(token, { error: problem, comment })];

      await this.limits.admitTokenCompletion(token.id, res);
      const output: ApprovalOutput = { approved: decision === 'approve', ...(comment !== '' && { comment }) };
      await this.tokenService.completeToken({
        tokenId: token.id,
        output: JSON.stringify(output),
        outputType: JSON_OUTPUT_TYPE,
        channel: 'approval_page',
        metadata: { correlationId: correlationIdOf(req), actor: { type: 'approval_page' } },
      });
      // Whoever won (this submit, or a completion, timeout or cancel that came first), show the final state.
      return [200, this.render((await this.tokenFor(id, hash)) ?? token)];
    });
  }

  /** The token the link is for, if the link is genuine and the token has an approval page. */
  private async tokenFor(id: string, hash: string): Promise<ApprovalToken | undefined> {
    const tokenId = toInternalTokenId(id);
    if (!isInternalTokenId(tokenId) || !this.signature.verify(tokenId, hash)) return undefined;
    try {
      const token = await this.tokenService.approvalToken({ tokenId });
      return token.approval ? (token as ApprovalToken) : undefined;
    } catch (error) {
      if (error instanceof HttpException && error.getStatus() === 404) return undefined;
      throw error;
    }
  }

  private render(token: ApprovalToken, draft: { error?: string; comment?: string } = {}): string {
    if (token.status !== 'WAITING') return approvalFinishedPage(token);
    const action = approvalPath(token.id, this.signature.sign(token.id));
    return approvalFormPage({ token, action, formToken: this.signature.formToken(token.id), ...draft });
  }

  /** Every answer is a page with the page's headers, errors included (503, 429). */
  private async answer(res: Response, work: () => Promise<[number, string]>): Promise<void> {
    try {
      const [status, page] = await work();
      sendApprovalPage(res, status, page);
    } catch (error) {
      const status =
        error instanceof HttpException
          ? error.getStatus()
          : error instanceof WaitpointError && error.code === ErrorCode.TokenNotFound
            ? 404
            : 500;
      const message =
        status === 429
          ? 'Too many attempts for this request. Wait a minute and try again.'
          : status === 503
            ? 'The service is busy or restarting. Try again in a moment.'
            : 'Something went wrong. Try again later.';
      sendApprovalPage(res, status, approvalMessagePage('Not available right now', message));
    }
  }
}
