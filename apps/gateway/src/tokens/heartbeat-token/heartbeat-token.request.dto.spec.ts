import { ApiError } from '../../http/api-error';
import { RequestBodyPipe } from '../../http/request-validation';
import { HeartbeatTokenRequest } from './heartbeat-token.request.dto';

describe('HeartbeatTokenRequest', () => {
  const pipe = new RequestBodyPipe(HeartbeatTokenRequest, '; a heartbeat takes no fields: send an empty body or {}');

  it('is an empty body: {} passes (an empty body reads as {})', () => {
    expect(pipe.transform({})).toBeInstanceOf(HeartbeatTokenRequest);
  });

  it('refuses any field as unknown, saying what to send', () => {
    let refusal: unknown;
    try {
      pipe.transform({ at: 1 });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ApiError);
    expect((refusal as ApiError).getResponse()).toEqual({
      error: 'unknown field "at"; a heartbeat takes no fields: send an empty body or {}',
    });
  });
});
