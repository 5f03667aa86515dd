// Programs a model writes for SALES_TASK, as the code tool receives them: the test's scripted model sends them,
// and the bench runs them, so both measure the workload a real model's answer would make.

/** Python: list the regions, gather every region's sales at once, total them, draw chart.png, return the totals. */
export const SALES_PYTHON_CODE = `
import asyncio
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

regions = (await list_regions())["regions"]
batches = await asyncio.gather(*(get_sales(region) for region in regions))

totals = {}
for batch in batches:
    by_month = totals.setdefault(batch["region"], {})
    for row in batch["rows"]:
        by_month[row["month"]] = by_month.get(row["month"], 0) + row["revenue"]
totals = {region: dict(sorted(by_month.items())) for region, by_month in totals.items()}
months = sorted({month for by_month in totals.values() for month in by_month})

fig, ax = plt.subplots(figsize=(8, 4.5))
bottom = [0] * len(regions)
for month in months:
    values = [totals[region].get(month, 0) for region in regions]
    ax.bar(regions, values, bottom=bottom, label=month)
    bottom = [b + v for b, v in zip(bottom, values)]
ax.set_title("Revenue by region and month")
ax.set_ylabel("revenue")
ax.legend(fontsize="small")
fig.tight_layout()
fig.savefig("chart.png", dpi=100)

print(f"{sum(len(batch['rows']) for batch in batches)} order lines from {len(regions)} regions")
set_result(totals, files=["chart.png"])
`;

/** Node: the same fan-out with Promise.all and the same totals (no chart: Node has no plotting library here). */
export const SALES_NODE_CODE = `
const { regions } = await list_regions();
const batches = await Promise.all(regions.map((region) => get_sales(region)));
const totals = {};
for (const batch of batches) {
  const byMonth = (totals[batch.region] ??= {});
  for (const row of batch.rows) byMonth[row.month] = (byMonth[row.month] ?? 0) + row.revenue;
}
for (const region of Object.keys(totals)) {
  totals[region] = Object.fromEntries(Object.entries(totals[region]).sort(([a], [b]) => a.localeCompare(b)));
}
console.log(batches.reduce((sum, batch) => sum + batch.rows.length, 0) + " order lines from " + regions.length + " regions");
return totals;
`;
