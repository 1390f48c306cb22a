import { ApprovalPageHttpController } from './approval-page/approval-page.http.controller';
import { CancelTokenHttpController } from './cancel-token/cancel-token.http.controller';
import { CompleteByCallbackHttpController } from './complete-by-callback/complete-by-callback.http.controller';
import { CompleteTokenHttpController } from './complete-token/complete-token.http.controller';
import { CreateTokenHttpController } from './create-token/create-token.http.controller';
import { ExtendTokenHttpController } from './extend-token/extend-token.http.controller';
import { HeartbeatTokenHttpController } from './heartbeat-token/heartbeat-token.http.controller';
import { ListTokensHttpController } from './list-tokens/list-tokens.http.controller';
import { RejectTokenHttpController } from './reject-token/reject-token.http.controller';
import { RetrieveTokenHttpController } from './retrieve-token/retrieve-token.http.controller';

/**
 * The waitpoint token REST API (Trigger.dev's wire format), one adapter per use case: HTTP →
 * validated request DTO → command or query over NATS → wire shape (token.presenter). Body
 * limits and parsing are set up in app.ts. In this order in the API description.
 */
export const tokenControllers = [
  CreateTokenHttpController,
  ListTokensHttpController,
  RetrieveTokenHttpController,
  CompleteTokenHttpController,
  CancelTokenHttpController,
  RejectTokenHttpController,
  ExtendTokenHttpController,
  HeartbeatTokenHttpController,
  CompleteByCallbackHttpController,
  ApprovalPageHttpController,
];
