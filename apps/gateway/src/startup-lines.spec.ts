import { startupLines } from './startup-lines';

describe('gateway start lines', () => {
  it('name the bind address and the public URL apart', () => {
    const lines = startupLines({ address: '0.0.0.0', family: 'IPv4', port: 3000 }, 'https://waitpoints.example.com');
    expect(lines[0]).toBe(
      'Listening on http://0.0.0.0:3000 (HOST, PORT, all interfaces); public URL https://waitpoints.example.com (PUBLIC_URL: callback URLs and links)',
    );
    expect(lines.slice(1)).toEqual([
      'REST API: https://waitpoints.example.com/api/v1/waitpoints/tokens',
      'Dashboard: https://waitpoints.example.com/dashboard (sign in with an API key)',
      'API description: https://waitpoints.example.com/docs; metrics, health and readiness on /metrics, /health, /ready',
    ]);
    expect(lines.join('\n')).not.toContain('localhost');
  });

  it('brackets an IPv6 bind address', () => {
    expect(startupLines({ address: '::1', family: 'IPv6', port: 8080 }, 'http://localhost:8080')[0]).toMatch(
      /^Listening on http:\/\/\[::1\]:8080 \(HOST, PORT\);/,
    );
  });
});
