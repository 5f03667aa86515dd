// The fan-out of parallel-fanout.ts in the Node runtime: every tool is an async function in the sandbox,
// so `await Promise.all(users.map((u) => get_user_orders(u.id)))` runs all the calls at once.
//
//   npm start                                  # in another terminal: the daemon
//   npm run build && node dist/examples/node-tools.js

import { RunboxClient } from 'runbox/sdk';
import { report } from './report.js';

const users = Array.from({ length: 30 }, (_, index) => ({ id: index + 1, name: `user${index + 1}`, plan: index % 3 === 0 ? 'pro' : 'free' }));

async function ordersOf(userId: number): Promise<{ orderId: string; amount: number }[]> {
  await new Promise((resolve) => setTimeout(resolve, 5 + (userId % 5)));
  return Array.from({ length: 3 + (userId % 6) }, (_, index) => ({ orderId: `${userId}-${index}`, amount: ((userId * 13 + index * 7) % 90) + 10 }));
}

const code = `
const users = await get_users();
const orders = await Promise.all(users.map((u) => get_user_orders(u.id)));

const byPlan = {};
const lines = ['user,plan,orders,total'];
users.forEach((user, index) => {
  const total = orders[index].reduce((sum, order) => sum + order.amount, 0);
  byPlan[user.plan] = (byPlan[user.plan] ?? 0) + total;
  lines.push([user.name, user.plan, orders[index].length, total].join(','));
});

const fs = await import('node:fs/promises');
await fs.writeFile('totals.csv', lines.join('\\n') + '\\n');
console.log('wrote totals.csv with ' + users.length + ' rows');
setResult({ users: users.length, orders: orders.flat().length, revenueByPlan: byPlan }, ['totals.csv']);
`;

const client = new RunboxClient();
try {
  const out = await client.execute({
    runtime: 'node',
    code,
    tools: {
      get_users: { description: 'All users', handler: () => users },
      get_user_orders: {
        description: "One user's orders",
        parameters: { type: 'object', properties: { user_id: { type: 'integer' } }, required: ['user_id'] },
        handler: ({ user_id }: { user_id: number }) => ordersOf(user_id),
      },
    },
    onStdout: (chunk) => process.stdout.write(chunk),
  });
  await report(out);
} finally {
  await client.close();
}
