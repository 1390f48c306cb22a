import type { AddressInfo } from 'node:net';

const TOKENS = '/api/v1/waitpoints/tokens';

/**
 * What the gateway prints when it is up: where it is bound (HOST, PORT) and where callers
 * reach it (PUBLIC_URL: callback URLs, the dashboard, the API description), which differ behind
 * a proxy or in a container.
 */
export function startupLines(bound: AddressInfo, publicUrl: string): string[] {
  const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  const everywhere = bound.address === '0.0.0.0' || bound.address === '::' ? ', all interfaces' : '';
  return [
    `Listening on http://${host}:${bound.port} (HOST, PORT${everywhere}); public URL ${publicUrl} (PUBLIC_URL: callback URLs and links)`,
    `REST API: ${publicUrl}${TOKENS}`,
    `Dashboard: ${publicUrl}/dashboard (sign in with an API key)`,
    `API description: ${publicUrl}/docs; metrics, health and readiness on /metrics, /health, /ready`,
  ];
}
