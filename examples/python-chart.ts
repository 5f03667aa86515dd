// Python fetches sales through tools (in parallel), aggregates them with pandas, draws chart.png with
// matplotlib and returns a summary plus the chart, which this script saves to the current directory.
//
//   npm start                                  # in another terminal: the daemon
//   npm run build && node dist/examples/python-chart.js

import { RunboxClient } from 'runbox/sdk';
import { report } from './report.js';

const REGIONS = ['north', 'south', 'east', 'west'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'];

// Stands in for a real data source (a database, an internal API) that only this process can reach.
function salesFor(region: string): { month: string; units: number; revenue: number }[] {
  const base = 100 + REGIONS.indexOf(region) * 40;
  return MONTHS.map((month, index) => {
    const units = base + ((index * 37 + region.length * 11) % 60);
    return { month, units, revenue: units * (12 + REGIONS.indexOf(region)) };
  });
}

const code = `
import asyncio
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

regions = await list_regions()
batches = await asyncio.gather(*(get_sales(region) for region in regions))
frame = pd.DataFrame([dict(row, region=region) for region, rows in zip(regions, batches) for row in rows])

by_region = frame.groupby("region")["revenue"].sum().sort_values(ascending=False)
pivot = frame.pivot(index="month", columns="region", values="revenue").reindex(frame["month"].unique())

ax = pivot.plot(marker="o", figsize=(8, 4.5), title="Monthly revenue by region")
ax.set_ylabel("revenue")
plt.tight_layout()
plt.savefig("chart.png", dpi=120)
print(f"plotted {len(frame)} rows from {len(regions)} regions")

set_result({
    "totalRevenue": int(frame["revenue"].sum()),
    "byRegion": by_region.to_dict(),
    "bestMonth": frame.groupby("month")["revenue"].sum().idxmax(),
}, files=["chart.png"])
`;

const client = new RunboxClient();
try {
  const out = await client.execute({
    runtime: 'python',
    code,
    timeoutMs: 60_000,
    tools: {
      list_regions: { description: 'The sales regions', handler: () => REGIONS },
      get_sales: {
        description: 'Monthly sales of one region',
        parameters: { type: 'object', properties: { region: { type: 'string' } }, required: ['region'] },
        handler: async ({ region }: { region: string }) => {
          if (!REGIONS.includes(region)) throw new Error(`unknown region ${region}`);
          return salesFor(region);
        },
      },
    },
    onStdout: (chunk) => process.stdout.write(chunk),
    onStderr: (chunk) => process.stderr.write(chunk),
  });
  await report(out);
} finally {
  await client.close();
}
