import jwt from 'jsonwebtoken';
import { ApiKeyRegistry } from './api-keys';
import { CallbackSignature } from './callback-signature';
import { PublicAccessTokens } from './public-access-token';

const tokenId = '01jd0000000000000000000000';
const current = 'current-signing-secret-0123456789abcdef';
const previous = 'previous-signing-secret-0123456789abcdef';

describe('callback URL hashes', () => {
  it('are the hex HMAC-SHA256 of the internal token id', () => {
    const hash = new CallbackSignature([current]).sign(tokenId);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(new CallbackSignature([current]).verify(tokenId, hash)).toBe(true);
  });

  it('survive a rotation of the signing secret', () => {
    const issuedBefore = new CallbackSignature([previous]).sign(tokenId);
    expect(new CallbackSignature([current, previous]).verify(tokenId, issuedBefore)).toBe(true);
  });

  it('reject forged, truncated, non-hex and other-token hashes', () => {
    const signature = new CallbackSignature([current]);
    const hash = signature.sign(tokenId);
    expect(signature.verify(tokenId, hash.slice(0, 63))).toBe(false);
    expect(signature.verify(tokenId, `${hash.slice(0, 63)}${hash[63] === 'a' ? 'b' : 'a'}`)).toBe(false);
    expect(signature.verify(tokenId, 'z'.repeat(64))).toBe(false);
    expect(signature.verify('01jd0000000000000000000001', hash)).toBe(false);
  });
});

describe('API keys', () => {
  it('map each key to its environment and nothing else', () => {
    const keys = new ApiKeyRegistry(
      new Map([
        ['key-of-dev-0123456789', 'dev'],
        ['key-of-prod-0123456789', 'prod'],
      ]),
    );
    expect(keys.environmentOf('key-of-dev-0123456789')).toBe('dev');
    expect(keys.environmentOf('key-of-prod-0123456789')).toBe('prod');
    expect(keys.environmentOf('key-of-dev-012345678')).toBeUndefined();
  });
});

describe('public access tokens', () => {
  const envKey = 'tr_dev_secret_key_0123456789';
  const tokens = new PublicAccessTokens([current, previous], (env) => (env === 'dev' ? [envKey] : []));

  it('grant completing exactly the token they were issued for', () => {
    const jwtToken = tokens.issueForToken('dev', tokenId);
    expect(tokens.checkWriteAccess(jwtToken, `waitpoint_${tokenId}`)).toEqual({ ok: true, environment: 'dev' });
    expect(tokens.checkWriteAccess(jwtToken, tokenId)).toEqual({ ok: true, environment: 'dev' });
    expect(tokens.checkWriteAccess(jwtToken, '01jd0000000000000000000001')).toMatchObject({ ok: false, status: 403 });
  });

  it('carry the claims the Trigger.dev SDK expects, for 24 hours', () => {
    const claims = jwt.decode(tokens.issueForToken('dev', tokenId)) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: 'dev', pub: true, scopes: [`write:waitpoints:waitpoint_${tokenId}`] });
    expect(claims.exp! - claims.iat!).toBe(24 * 3600);
  });

  it('accept tokens the SDK signed itself with the secret key', () => {
    const selfSigned = jwt.sign({ pub: true, scopes: [`write:waitpoints:waitpoint_${tokenId}`] }, envKey, {
      subject: 'dev',
      expiresIn: 60,
    });
    expect(tokens.checkWriteAccess(selfSigned, tokenId)).toEqual({ ok: true, environment: 'dev' });
  });

  it('reject expired, wrong-key and alg:none tokens with 401', () => {
    const expired = jwt.sign({ pub: true, scopes: ['write:waitpoints'], exp: Math.floor(Date.now() / 1000) - 10 }, current, {
      subject: 'dev',
    });
    expect(tokens.checkWriteAccess(expired, tokenId)).toEqual({ ok: false, status: 401, message: 'Public access token has expired' });
    const wrongKey = jwt.sign({ pub: true, scopes: ['write:waitpoints'] }, 'some-other-secret-0123456789abcdef', { subject: 'dev' });
    expect(tokens.checkWriteAccess(wrongKey, tokenId)).toMatchObject({ ok: false, status: 401 });
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'dev', pub: true, scopes: ['write:all'] })).toString('base64url');
    expect(tokens.checkWriteAccess(`${header}.${payload}.`, tokenId)).toMatchObject({ ok: false, status: 401 });
  });

  it('let whoever may complete a token also watch it, and read scopes watch without completing', () => {
    const issued = tokens.issueForToken('dev', tokenId);
    expect(tokens.checkReadAccess(issued, tokenId)).toEqual({ ok: true, environment: 'dev' });
    expect(tokens.checkReadAccess(issued, '01jd0000000000000000000001')).toMatchObject({
      ok: false,
      status: 403,
      message: 'This public access token does not allow reading waitpoint waitpoint_01jd0000000000000000000001',
    });
    const sign = (scopes: string[]) => jwt.sign({ pub: true, scopes }, current, { subject: 'dev', expiresIn: 60 });
    const readOne = sign([`read:waitpoints:waitpoint_${tokenId}`]);
    expect(tokens.checkReadAccess(readOne, tokenId)).toMatchObject({ ok: true });
    expect(tokens.checkWriteAccess(readOne, tokenId)).toMatchObject({ ok: false, status: 403 });
    for (const scope of ['read:waitpoints', 'read:all', 'write:all', '*:waitpoints', 'admin']) {
      expect(tokens.checkReadAccess(sign([scope]), tokenId)).toMatchObject({ ok: true });
    }
    expect(tokens.checkReadAccess(sign(['read:runs', 'read:waitpoints:01jd0000000000000000000001']), tokenId)).toMatchObject({ ok: false });
  });

  it('reject tokens that are not public tokens', () => {
    const notPublic = jwt.sign({ scopes: ['write:all'] }, current, { subject: 'dev' });
    expect(tokens.checkWriteAccess(notPublic, tokenId)).toMatchObject({ ok: false, status: 401 });
  });
});
