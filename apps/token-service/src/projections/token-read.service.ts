import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GetTokenQuery, ListTokensQuery, ListTokensResult, TokenView, tokenNotFound } from '@waitpoints/contracts';
import { TokenQueries } from './token-queries';

@Injectable()
export class TokenReadService {
  constructor(
    private readonly db: DataSource,
    private readonly queries: TokenQueries,
  ) {}

  async get(query: GetTokenQuery): Promise<TokenView> {
    const token = await this.queries.get(this.db.manager, query.environment, query.tokenId);
    if (!token) throw tokenNotFound(query.tokenId);
    return token;
  }

  list(query: ListTokensQuery): Promise<ListTokensResult> {
    return this.queries.list(this.db.manager, query);
  }
}
