// Fan-out: the code lists users, fetches every user's orders with one tool call each (all in flight at once),
// and aggregates inside the sandbox; only a small summary crosses back, not the thousands of orders.
//
//   npm start                                  # in another terminal: the daemon
//   npm run build && node dist/examples/parallel-fanout.js

import { RunboxClient } from 'runbox/sdk';
import { report } from './report.js';

const USER_COUNT = 50;
const users = Array.from({ length: USER_COUNT }, (_, index) => ({ id: index + 1, name: `user${index + 1}`, country: ['DE', 'FR', 'US', 'JP'][index % 4] }));

// Stands in for a slow per-user API: every call takes a few milliseconds, so doing them one by one would add up.
async function ordersOf(userId: number): Promise<{ orderId: string; amount: number; status: string }[]> {
  await new Promise((resolve) => setTimeout(resolve, 5 + (userId % 7)));
  return Array.from({ length: 5 + (userId % 11) }, (_, index) => ({
    orderId: `${userId}-${index}`,
    amount: Math.round(((userId * 31 + index * 17) % 200) + 9.99),
    status: index % 6 === 0 ? 'refunded' : 'paid',
  }));
}

const code = `
import asyncio
from collections import defaultdict

users = await get_users()
orders = await asyncio.gather(*(get_user_orders(user["id"]) for user in users))

revenue_by_country = defaultdict(float)
top_user, top_spent, order_count = None, -1.0, 0
for user, user_orders in zip(users, orders):
    paid = [order["amount"] for order in user_orders if order["status"] == "paid"]
    order_count += len(user_orders)
    revenue_by_country[user["country"]] += sum(paid)
    if sum(paid) > top_spent:
        top_user, top_spent = user["name"], sum(paid)

set_result({
    "users": len(users),
    "orders": order_count,
    "revenueByCountry": dict(sorted(revenue_by_country.items())),
    "topUser": {"name": top_user, "spent": top_spent},
})
`;

const client = new RunboxClient();
let calls = 0;
const started = performance.now();
try {
  const out = await client.execute({
    runtime: 'python',
    code,
    tools: {
      get_users: {
        description: 'All users',
        handler: () => {
          calls += 1;
          return users;
        },
      },
      get_user_orders: {
        description: "One user's orders",
        parameters: { type: 'object', properties: { user_id: { type: 'integer' } }, required: ['user_id'] },
        handler: ({ user_id }: { user_id: number }) => {
          calls += 1;
          return ordersOf(user_id);
        },
      },
    },
  });
  console.log(`${calls} tool calls answered here in ${Math.round(performance.now() - started)} ms`);
  await report(out, 'summary');
  console.log(`summary size: ${JSON.stringify(out.result).length} bytes`);
} finally {
  await client.close();
}
