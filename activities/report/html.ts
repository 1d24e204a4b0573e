/** Small helpers every report section uses to write HTML. */

export function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** One formatter per number of decimals: `toLocaleString` with options builds a new one per call. */
const formatters = new Map<number, Intl.NumberFormat>();

/** A number with thousands separators and a fixed number of decimals. */
export function fmt(n: number | null, digits = 0): string {
  // a feature the input cannot support is NULL (e.g. DOU from a file without data volumes)
  if (n === null) return '–';
  let formatter = formatters.get(digits);
  if (!formatter) {
    formatter = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    formatters.set(digits, formatter);
  }
  return formatter.format(n);
}

export { decimals } from '../../domain/decimals';

/** A count and its noun, the noun in the plural but for one: "1 file", "3 files". */
export function counted(n: number, noun: string): string {
  return `${fmt(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** A share as a percentage with one decimal: 0.1234 is "12.3%". */
export function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** A share as a whole percentage: 0.1234 is "12%"; below 1% one significant digit. */
export function percent(share: number): string {
  const value = share * 100;
  return `${value >= 1 || value === 0 ? Math.round(value) : Number(value.toPrecision(1))}%`;
}

/** A section of the report: `id` is its anchor, `title` its heading and entry in the contents. */
export interface ReportSection {
  id: string;
  title: string;
  html: string;
}
