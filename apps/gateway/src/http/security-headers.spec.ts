import type { NextFunction, Request, Response } from 'express';
import { securityHeaders } from './security-headers';

/** Runs the middleware on a request for `path` and returns the headers it set. */
function headersFor(publicUrl: string, path: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => delete headers[name.toLowerCase()],
    getHeader: (name: string) => headers[name.toLowerCase()],
  } as unknown as Response;
  const passedOn: unknown[] = [];
  securityHeaders(publicUrl)({ path, method: 'GET', headers: {} } as Request, res, ((error?: unknown) =>
    passedOn.push(error)) as NextFunction);
  expect(passedOn).toEqual([undefined]);
  return headers;
}

describe('security headers', () => {
  it('send HSTS only when the public URL is https, without claiming the subdomains', () => {
    expect(headersFor('http://localhost:3000', '/api/v1/waitpoints/tokens')['strict-transport-security']).toBeUndefined();
    expect(headersFor('https://waitpoints.example.com', '/api/v1/waitpoints/tokens')['strict-transport-security']).toBe('max-age=31536000');
  });

  it('let the API load nothing, Swagger UI its own assets, and the dashboard set its own policy', () => {
    expect(headersFor('http://localhost:3000', '/api/v1/waitpoints/tokens')['content-security-policy']).toBe(
      "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
    );
    const docs = headersFor('https://api.example.com', '/docs')['content-security-policy'];
    expect(docs).toContain("script-src 'self';");
    expect(docs).toContain("connect-src 'self' https://api.example.com;");
    expect(docs).not.toContain('upgrade-insecure-requests');
    expect(headersFor('http://localhost:3000', '/docs/swagger-ui-init.js')['content-security-policy']).toBe(
      docs.replace('https://api.example.com', 'http://localhost:3000'),
    );
    const dashboard = headersFor('http://localhost:3000', '/dashboard/tokens');
    expect(dashboard['content-security-policy']).toBeUndefined();
    expect(dashboard['x-content-type-options']).toBe('nosniff');
    expect(headersFor('http://localhost:3000', '/dashboards')['content-security-policy']).toContain("default-src 'none'");
  });
});
