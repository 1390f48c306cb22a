import { startRun } from './support/report';

export default function globalSetup(): void {
  startRun();
}
