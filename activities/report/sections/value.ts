import { paretoCurve, valueStabilityGrid } from '../charts';
import { priorityWords } from '../../../domain/rules';
import { pct, type ReportSection } from '../html';

export interface ValueData {
  pareto: { subscriber_share: number; revenue_share: number }[];
  grid: { value_tier: string; stability: string; subscribers: number; priority: number }[];
  keyCustomerRevenueShare: number;
}

/** The revenue pyramid and the value x stability grid that sets the operation priority. */
export async function valueSection(data: ValueData): Promise<ReportSection> {
  return {
    id: 'value',
    title: 'Value and stability',
    html: `<div class="row">${await paretoCurve(data.pareto)}${await valueStabilityGrid(data.grid)}</div>
    <p class="note">Key customers are the top subscribers holding ${pct(data.keyCustomerRevenueShare)} of revenue. Operation priority 1 (most urgent) is ${priorityWords(1)}, 2 ${priorityWords(2)}; 8, the least, ${priorityWords(8)}.</p>`,
  };
}
