// Ten tools with the kind of schemas agents are given (a CRM, a ticket desk, docs search, the weather): what
// the stub tests render and measure. Declarations only; tests add handlers where they run them.
import type { ToolDeclaration } from 'runbox/sdk';

const USER = {
  type: 'object',
  description: 'A customer account.',
  properties: {
    id: { type: 'string', description: 'Account id', format: 'uuid' },
    email: { type: 'string', format: 'email' },
    name: { type: 'string' },
    plan: { enum: ['free', 'pro', 'enterprise'] },
    created_at: { type: 'string', format: 'date-time' },
    manager: { anyOf: [{ $ref: '#/$defs/User' }, { type: 'null' }], description: 'Their account manager, if any' },
  },
  required: ['id', 'email', 'name', 'plan'],
};

export const SAMPLE_TOOLS: readonly ToolDeclaration[] = [
  {
    name: 'get_user',
    description: 'Fetch one customer account by id.',
    parameters: { type: 'object', properties: { user_id: { type: 'string', description: 'Account id' } }, required: ['user_id'] },
    outputSchema: { $ref: '#/$defs/User', $defs: { User: USER } },
  },
  {
    name: 'search_users',
    description: 'Search accounts by name or email; newest first.',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'Words to match' },
        plan: { type: ['string', 'null'], enum: ['free', 'pro', 'enterprise', null] },
        limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
      },
      required: ['query'],
    },
    outputSchema: {
      type: 'object',
      properties: { users: { type: 'array', items: { $ref: '#/$defs/User' } }, total: { type: 'integer' } },
      required: ['users', 'total'],
      $defs: { User: USER },
    },
  },
  {
    name: 'list_orders',
    description: "A customer's orders.",
    parameters: {
      type: 'object',
      properties: {
        user_id: { type: 'string' },
        status: { type: 'array', items: { enum: ['open', 'paid', 'refunded'] }, description: 'Only these statuses' },
        since: { type: 'string', format: 'date' },
      },
      required: ['user_id'],
    },
    outputSchema: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          total_cents: { type: 'integer' },
          currency: { type: 'string', default: 'EUR' },
          status: { enum: ['open', 'paid', 'refunded'] },
          lines: {
            type: 'array',
            items: { type: 'object', properties: { sku: { type: 'string' }, quantity: { type: 'integer' } }, required: ['sku', 'quantity'] },
          },
        },
        required: ['id', 'total_cents', 'status'],
      },
    },
  },
  {
    name: 'create_ticket',
    description: 'Open a support ticket.',
    parameters: {
      type: 'object',
      properties: {
        title: { type: 'string' },
        body: { type: 'string', description: 'Markdown' },
        priority: { enum: ['low', 'normal', 'high'], default: 'normal' },
        tags: { type: 'array', items: { type: 'string' } },
        user_id: { type: 'string', nullable: true },
      },
      required: ['title', 'body'],
    },
    outputSchema: { type: 'object', properties: { ticket_id: { type: 'string' }, url: { type: 'string', format: 'uri' } }, required: ['ticket_id'] },
  },
  {
    name: 'update_ticket',
    description: 'Change fields of a ticket.',
    parameters: {
      type: 'object',
      properties: {
        ticket_id: { type: 'string' },
        changes: {
          type: 'object',
          properties: { status: { enum: ['open', 'pending', 'closed'] }, assignee: { type: ['string', 'null'] } },
          additionalProperties: false,
        },
      },
      required: ['ticket_id', 'changes'],
    },
  },
  {
    name: 'search.docs',
    description: 'Full-text search of the product documentation.',
    parameters: { type: 'object', properties: { query: { type: 'string' }, top_k: { type: 'integer', default: 5 } }, required: ['query'] },
    outputSchema: {
      type: 'object',
      properties: {
        hits: {
          type: 'array',
          items: { type: 'object', properties: { title: { type: 'string' }, url: { type: 'string' }, score: { type: 'number' } }, required: ['title', 'url', 'score'] },
        },
      },
      required: ['hits'],
    },
  },
  {
    name: 'get_weather',
    description: 'Current weather at a place.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, units: { enum: ['metric', 'imperial'], default: 'metric' } },
      required: ['city'],
    },
    outputSchema: {
      type: 'object',
      properties: { temperature: { type: 'number' }, conditions: { type: 'string' }, wind_kph: { type: 'number' } },
      required: ['temperature', 'conditions'],
    },
  },
  {
    name: 'send_email',
    description: 'Send an email from the support address.',
    parameters: {
      type: 'object',
      properties: {
        to: { type: 'array', items: { type: 'string', format: 'email' } },
        subject: { type: 'string' },
        body: { type: 'string' },
        attachments: { type: 'array', items: { type: 'string' }, description: 'Workspace paths' },
      },
      required: ['to', 'subject', 'body'],
    },
    outputSchema: { type: 'object', properties: { message_id: { type: 'string' } }, required: ['message_id'] },
  },
  {
    name: 'get_metrics',
    description: 'Daily values of a metric.',
    parameters: {
      type: 'object',
      properties: {
        metric: { enum: ['signups', 'revenue', 'churn'] },
        from: { type: 'string', format: 'date' },
        to: { type: 'string', format: 'date' },
      },
      required: ['metric', 'from', 'to'],
    },
    outputSchema: { type: 'object', additionalProperties: { type: 'number' }, description: 'Value by ISO date' },
  },
  {
    name: 'run-report',
    description: 'Run a saved report by name.',
    parameters: {
      type: 'object',
      properties: { report: { type: 'string' }, params: { type: 'object', additionalProperties: true } },
      required: ['report'],
    },
  },
];
