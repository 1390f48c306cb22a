import type { Provider } from '@nestjs/common';
import { ApiKeyRegistry } from '../auth/api-keys';
import { TokenActionFlow } from './actions/token-action-flow';
import { TokenActionsController } from './actions/token-actions.controller';
import { DashboardAssetsController } from './assets.controller';
import { DASHBOARD_OPTIONS } from './dashboard-http';
import { DashboardPagesController } from './pages/dashboard-pages.controller';
import { SchedulerLateness } from './scheduler-lateness';
import { DashboardSessions } from './session';
import { SessionFormGuard, SignedInGuard } from './signed-in.guard';
import { SignInController } from './sign-in/sign-in.controller';
import { TokenDetails } from './token-details';

/**
 * The ops dashboard: server-rendered pages over the same commands and queries the REST API
 * uses. Signed in with an API key (its environment scopes everything); actions are form POSTs
 * carrying the session's CSRF token. HTTP plumbing (headers, form parsing): dashboard-http.ts.
 */
export const dashboardControllers = [SignInController, DashboardAssetsController, DashboardPagesController, TokenActionsController];

export function dashboardProviders(config: { publicUrl: string; signingSecrets: string[] }, apiKeys: ApiKeyRegistry): Provider[] {
  return [
    { provide: DASHBOARD_OPTIONS, useValue: { publicUrl: config.publicUrl } },
    { provide: DashboardSessions, useValue: new DashboardSessions(config.signingSecrets, apiKeys) },
    SchedulerLateness,
    SignedInGuard,
    SessionFormGuard,
    TokenDetails,
    TokenActionFlow,
  ];
}
