/** Left-aligned columns separated by two spaces, like ctr's tabwriter output. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, col) => Math.max(title.length, ...rows.map((row) => row[col].length)));
  return [header, ...rows]
    .map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]))).join('  '))
    .join('\n');
}
