import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { GatewayConfig } from '../config';
import { PUBLIC_ACCESS_TOKEN_AUTH, SECRET_KEY_AUTH } from './route-docs';

export const API_DOCS_PATH = 'docs';

/** The OpenAPI 3 description of the REST API: Swagger UI at /docs, the JSON at /docs-json. */
export function buildApiDocument(app: INestApplication, config: GatewayConfig): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Waitpoints REST API')
      .setDescription(
        "Waitpoint tokens, wire-compatible with Trigger.dev's waitpoint API (the official @trigger.dev/sdk works against it). " +
          'Errors are always JSON {"error": "<message>"}; every response carries x-request-id. Absent fields are omitted, never null.',
      )
      .setVersion(process.env.npm_package_version ?? '0.1.0')
      .addServer(config.publicUrl)
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The secret API key of an environment (API_KEYS)' }, SECRET_KEY_AUTH)
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A public access token (x-trigger-jwt of the create response, or one signed with an API key) scoped to write:waitpoints:<id>',
        },
        PUBLIC_ACCESS_TOKEN_AUTH,
      )
      .build(),
  );
  // "Any JSON value": no type at all (the decorators would say "object").
  const completeRequest = document.components?.schemas?.CompleteTokenRequest as { properties?: Record<string, object> } | undefined;
  if (completeRequest?.properties?.data) {
    const { description, example } = completeRequest.properties.data as { description?: string; example?: unknown };
    completeRequest.properties.data = { description, example };
  }
  return document;
}

export function setUpApiDocs(app: INestApplication, config: GatewayConfig): void {
  SwaggerModule.setup(API_DOCS_PATH, app, () => buildApiDocument(app, config), {
    jsonDocumentUrl: `${API_DOCS_PATH}-json`,
    yamlDocumentUrl: `${API_DOCS_PATH}-yaml`,
  });
}
