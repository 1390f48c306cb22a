import type { Provider } from '@nestjs/common';
import { ApiKeyRegistry } from '../auth/api-keys';
import { DASHBOARD_OPTIONS, DashboardController } from './dashboard.controller';
import { SchedulerLateness } from './scheduler-lateness';
import { DashboardSessions } from './session';

export const dashboardControllers = [DashboardController];

export function dashboardProviders(config: { publicUrl: string; signingSecrets: string[] }, apiKeys: ApiKeyRegistry): Provider[] {
  return [
    { provide: DASHBOARD_OPTIONS, useValue: { publicUrl: config.publicUrl } },
    { provide: DashboardSessions, useValue: new DashboardSessions(config.signingSecrets, apiKeys) },
    SchedulerLateness,
  ];
}
