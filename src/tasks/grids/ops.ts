/**
 * Pure grid operations behind the world's families (families.ts): connected components, gravity (four directions),
 * scaling, cropping, shifting, filling enclosed background. Each returns a new grid.
 */
import { type Grid, gridHeight, gridWidth, makeGrid } from './grid.js';

/** The four orthogonal steps [dy, dx]. */
const STEPS4: readonly (readonly [number, number])[] = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
];

/** The 4-connected components of non-zero cells, as lists of [row, column]. */
export function components(grid: Grid): [number, number][][] {
  const h = gridHeight(grid);
  const w = gridWidth(grid);
  const seen = makeGrid(h, w);
  const out: [number, number][][] = [];
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      if (grid[r]![c] === 0 || seen[r]![c] === 1) continue;
      const comp: [number, number][] = [];
      const stack: [number, number][] = [[r, c]];
      seen[r]![c] = 1;
      while (stack.length > 0) {
        const [y, x] = stack.pop()!;
        comp.push([y, x]);
        for (const [dy, dx] of STEPS4) {
          const ny = y + dy;
          const nx = x + dx;
          if (ny < 0 || nx < 0 || ny >= h || nx >= w || grid[ny]![nx] === 0 || seen[ny]![nx] === 1) continue;
          seen[ny]![nx] = 1;
          stack.push([ny, nx]);
        }
      }
      out.push(comp);
    }
  return out;
}

export function gravityDown(grid: Grid): number[][] {
  const h = gridHeight(grid);
  const out = makeGrid(h, gridWidth(grid));
  for (let c = 0; c < gridWidth(grid); c++) {
    const cells = grid.map((row) => row[c]!).filter((v) => v !== 0);
    cells.forEach((v, i) => {
      out[h - cells.length + i]![c] = v;
    });
  }
  return out;
}

export function gravityLeft(grid: Grid): number[][] {
  return grid.map((row) => {
    const cells = row.filter((v) => v !== 0);
    return [...cells, ...new Array<number>(row.length - cells.length).fill(0)];
  });
}

/** Every coloured cell rises to the top of its column (gravity_down seen upside down). */
export function gravityUp(grid: Grid): number[][] {
  return gravityDown([...grid].reverse()).reverse();
}

/** Every coloured cell moves to the right of its row (gravity_left seen in a mirror). */
export function gravityRight(grid: Grid): number[][] {
  return gravityLeft(grid.map((row) => [...row].reverse())).map((row) => row.reverse());
}

export function scale2(grid: Grid): number[][] {
  return grid.flatMap((row) => {
    const wide = row.flatMap((v) => [v, v]);
    return [wide, [...wide]];
  });
}

export function cropToContent(grid: Grid): number[][] | null {
  let top = Infinity;
  let bottom = -1;
  let left = Infinity;
  let right = -1;
  for (let r = 0; r < grid.length; r++) {
    const row = grid[r]!;
    for (let c = 0; c < row.length; c++) {
      if (row[c] === 0) continue;
      top = Math.min(top, r);
      bottom = Math.max(bottom, r);
      left = Math.min(left, c);
      right = Math.max(right, c);
    }
  }
  if (bottom < 0) return null;
  return grid.slice(top, bottom + 1).map((row) => row.slice(left, right + 1));
}

/** Background cells that no 4-connected path of background cells joins to the border become `colour`. */
export function fillEnclosed(grid: Grid, colour: number): number[][] {
  const h = gridHeight(grid);
  const w = gridWidth(grid);
  const open = makeGrid(h, w);
  const stack: [number, number][] = [];
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++)
      if ((r === 0 || c === 0 || r === h - 1 || c === w - 1) && grid[r]![c] === 0) {
        open[r]![c] = 1;
        stack.push([r, c]);
      }
  while (stack.length > 0) {
    const [y, x] = stack.pop()!;
    for (const [dy, dx] of STEPS4) {
      const ny = y + dy;
      const nx = x + dx;
      if (ny < 0 || nx < 0 || ny >= h || nx >= w || open[ny]![nx] === 1 || grid[ny]![nx] !== 0) continue;
      open[ny]![nx] = 1;
      stack.push([ny, nx]);
    }
  }
  return grid.map((row, r) => row.map((v, c) => (v === 0 && open[r]![c] === 0 ? colour : v)));
}

export const SHIFTS = { right: [0, 1], left: [0, -1], down: [1, 0], up: [-1, 0] } as const;
export type ShiftDir = keyof typeof SHIFTS;

export function shift(grid: Grid, dir: ShiftDir): number[][] {
  const [dy, dx] = SHIFTS[dir];
  const h = gridHeight(grid);
  const w = gridWidth(grid);
  const out = makeGrid(h, w);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      const y = r + dy;
      const x = c + dx;
      if (y >= 0 && x >= 0 && y < h && x < w) out[y]![x] = grid[r]![c]!;
    }
  return out;
}
