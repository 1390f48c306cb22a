import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GetTokenQuery, ListTokensQuery, ListTokensResult, TokenView, tokenNotFound } from '@waitpoints/contracts';
import { needsOffload } from '@waitpoints/contracts/nats/output-store';
import { JetStreamPublisher } from '../outbox/jetstream-publisher';
import { TokenQueries } from './token-queries';

@Injectable()
export class TokenReadService {
  constructor(
    private readonly db: DataSource,
    private readonly queries: TokenQueries,
    private readonly publisher: JetStreamPublisher,
  ) {}

  async get(query: GetTokenQuery): Promise<TokenView> {
    const token = await this.queries.get(this.db.manager, query.environment, query.tokenId);
    if (!token) throw tokenNotFound(query.tokenId);
    if (needsOffload(token.output)) {
      // Too large for the reply message: hand over a reference the gateway reads itself.
      const { output, ...rest } = token;
      return { ...rest, outputRef: await this.publisher.outputs.saveTokenOutput(token.id, output) };
    }
    return token;
  }

  list(query: ListTokensQuery): Promise<ListTokensResult> {
    return this.queries.list(this.db.manager, query);
  }
}
