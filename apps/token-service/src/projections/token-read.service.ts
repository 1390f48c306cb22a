import { Injectable } from '@nestjs/common';
import { Database } from '../database/database';
import {
  ApprovalTokenQuery,
  ErrorCode,
  GetTokenQuery,
  ListTokensQuery,
  ListTokensResult,
  OutputChunkQuery,
  OutputChunkResult,
  TokenView,
  WaitpointError,
  tokenNotFound,
} from '@waitpoints/contracts';
import { OUTPUT_CHUNK_CHARS } from '@waitpoints/contracts/nats/output-store';
import { TokenQueries } from './token-queries';

@Injectable()
export class TokenReadService {
  constructor(
    private readonly db: Database,
    private readonly queries: TokenQueries,
  ) {}

  async get(query: GetTokenQuery): Promise<TokenView> {
    const token = await this.queries.get(this.db.reads, query.environment, query.tokenId);
    if (!token) throw tokenNotFound(query.tokenId);
    return token;
  }

  async approvalToken(query: ApprovalTokenQuery): Promise<TokenView> {
    const token = await this.queries.getForApproval(this.db, query.tokenId);
    if (!token) throw tokenNotFound(query.tokenId);
    return token;
  }

  async outputChunk(query: OutputChunkQuery): Promise<OutputChunkResult> {
    const { offset, length } = query;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length < 1 || length > OUTPUT_CHUNK_CHARS) {
      throw new WaitpointError(ErrorCode.ValidationFailed, `output chunk must be 1 to ${OUTPUT_CHUNK_CHARS} characters from offset >= 0`);
    }
    const chunk = await this.queries.outputChunk(this.db.reads, query.environment, query.tokenId, offset, length);
    if (chunk === undefined) throw tokenNotFound(query.tokenId);
    return { chunk };
  }

  list(query: ListTokensQuery): Promise<ListTokensResult> {
    return this.queries.list(this.db.reads, query);
  }
}
