import { finishRun } from './support/report';

export default function globalTeardown(): void {
  finishRun();
}
