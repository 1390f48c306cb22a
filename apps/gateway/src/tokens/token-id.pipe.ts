import { Injectable, PipeTransform } from '@nestjs/common';
import { isInternalTokenId, toInternalTokenId } from '@waitpoints/contracts';
import { ApiError } from '../http/api-error';

/**
 * A token id from the path (`:id`), with or without `waitpoint_`, as the internal id. An id that
 * cannot be one of ours is simply not found, as on Trigger.dev (whose routes take any string and
 * look it up): 404, the same answer as for an unknown id or one of another environment.
 * The API's routes and the dashboard's pages and actions all read their ids through it.
 */
@Injectable()
export class TokenIdPipe implements PipeTransform<string, string> {
  transform(raw: string): string {
    const id = toInternalTokenId(raw);
    if (!isInternalTokenId(id)) throw ApiError.notFound(`Waitpoint token ${raw.slice(0, 100)} not found`);
    return id;
  }
}
