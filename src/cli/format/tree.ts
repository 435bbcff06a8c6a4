import type { Kind, SnapshotInfo } from '../../snapshots/types';

export interface TreeNode {
  name: string;
  kind: Kind;
  children: TreeNode[];
}

/** Parent/child forest; a snapshot whose parent is not listed becomes a root. Names sort at every level. */
export function buildTree(snapshots: SnapshotInfo[]): TreeNode[] {
  const nodes = new Map(snapshots.map((info) => [info.name, { name: info.name, kind: info.kind, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const info of [...snapshots].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const node = nodes.get(info.name)!;
    const parent = info.parent === '' ? undefined : nodes.get(info.parent);
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

/** ctr's tree drawing: `\_ name`, two spaces deeper per generation. */
export function drawTree(roots: TreeNode[]): string[] {
  const lines: string[] = [];
  const draw = (node: TreeNode, depth: number) => {
    lines.push(`${'  '.repeat(depth)}\\_ ${node.name}`);
    for (const child of node.children) draw(child, depth + 1);
  };
  for (const root of roots) draw(root, 0);
  return lines;
}
