/**
 * The transformation families of the synthetic grid world (world.ts): each draws, per task, a rule (its parameters)
 * and the inputs that rule is shown on. Grids are small (2×2 to 6×6, at most 6×6 after the rule) and use a
 * per-task palette of two or three colours on the background 0.
 *
 * Primitives:
 * - `rotate`: rot90, rot180 or rot270 (clockwise);
 * - `flip`: mirror left ↔ right or top ↔ bottom;
 * - `transpose`: mirror in the main or the anti-diagonal;
 * - `colour_map`: one or two palette colours become other colours (0 stays), e.g. 2→7;
 * - `gravity_down` / `gravity_left` / `gravity_up` / `gravity_right`: every coloured cell falls to the bottom / left /
 *   top / right of its column / row (the same rule in four orientations: turning a task by a quarter turn maps one
 *   onto another);
 * - `crop`: the bounding box of the non-background cells;
 * - `tile`: the grid repeated 1×2, 2×1 or 2×2 (inputs up to 3×3);
 * - `scale2`: every cell becomes a 2×2 block (inputs up to 3×3);
 * - `shift`: everything moves one cell right, left, down or up (the edge it moves towards is empty);
 * - `recolour_by_size`: one-coloured objects (4-connected, sizes 1–3) recoloured by their size (a per-task
 *   size → colour map);
 * - `fill_enclosed`: background cells not connected to the border (inside outlined boxes) filled with one colour.
 *
 * A composition `a+b` shows a's inputs and applies a, then b.
 */
import type { Rng } from '../../util/rng.js';
import { applyGeometry, type Geometry } from './augment.js';
import { copyGrid, type Grid, gridHeight, gridWidth, makeGrid } from './grid.js';
import {
  components,
  cropToContent,
  fillEnclosed,
  gravityDown,
  gravityLeft,
  gravityRight,
  gravityUp,
  SHIFTS,
  type ShiftDir,
  scale2,
  shift,
} from './ops.js';

/** Largest side of any grid in the world (inputs and outputs). */
export const WORLD_MAX_SIDE = 6;

export const PRIMITIVES = [
  'rotate',
  'flip',
  'transpose',
  'colour_map',
  'gravity_down',
  'gravity_left',
  'gravity_up',
  'gravity_right',
  'crop',
  'tile',
  'scale2',
  'shift',
  'recolour_by_size',
  'fill_enclosed',
] as const;
export type Primitive = (typeof PRIMITIVES)[number];

/** What a task is drawn from: the palette its inputs use. */
export interface RuleContext {
  /** Two or three distinct colours from 1–9. */
  readonly palette: readonly number[];
}

/** One task's rule: parameters fixed, an input generator and the map from input to output. */
export interface Rule {
  /** `rotate(rot90)`, `colour_map(2→7)`, … */
  readonly name: string;
  input(rng: Rng): number[][];
  /** The output, or null where the rule is undefined on this grid (too large, an unmapped size, …). */
  apply(grid: Grid): number[][] | null;
  /** Extra ambiguity check: does what the demonstrations show determine the test output? */
  covers?(demoInputs: readonly Grid[], testInput: Grid): boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const between = (rng: Rng, lo: number, hi: number) => lo + rng.int(hi - lo + 1);

/** A random h×w grid: each cell a palette colour with probability `density`, else 0; at least one coloured cell. */
export function randomGrid(
  rng: Rng,
  h: number,
  w: number,
  palette: readonly number[],
  density: number,
): number[][] {
  const g = makeGrid(h, w);
  let coloured = 0;
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++)
      if (rng.next() < density) {
        g[r]![c] = rng.pick(palette);
        coloured++;
      }
  if (coloured === 0) g[rng.int(h)]![rng.int(w)] = rng.pick(palette);
  return g;
}

function sizedGrid(rng: Rng, ctx: RuleContext, lo: number, hi: number, density?: number): number[][] {
  const d = density ?? 0.25 + 0.35 * rng.next();
  return randomGrid(rng, between(rng, lo, hi), between(rng, lo, hi), ctx.palette, d);
}

/** A colour from 1–9 not in `avoid`. */
function freshColour(rng: Rng, avoid: readonly number[]): number {
  return rng.pick([1, 2, 3, 4, 5, 6, 7, 8, 9].filter((c) => !avoid.includes(c)));
}

function fits(g: Grid): boolean {
  return gridHeight(g) <= WORLD_MAX_SIDE && gridWidth(g) <= WORLD_MAX_SIDE;
}

// ---------------------------------------------------------------------------------------------------------------
// Families

type Maker = (rng: Rng, ctx: RuleContext) => Rule;

function geometric(family: string, options: readonly Geometry[]): Maker {
  return (rng, ctx) => {
    const g = rng.pick(options);
    return {
      name: `${family}(${g})`,
      input: (r) => sizedGrid(r, ctx, 3, 6),
      apply: (x) => applyGeometry(x, g),
    };
  };
}

const colourMap: Maker = (rng, ctx) => {
  const changed = rng.shuffle([...ctx.palette]).slice(0, 1 + rng.int(Math.min(2, ctx.palette.length)));
  const map = new Map<number, number>();
  const used = [...ctx.palette];
  for (const from of changed) {
    const to = freshColour(rng, used);
    used.push(to);
    map.set(from, to);
  }
  return {
    name: `colour_map(${[...map].map(([a, b]) => `${a}→${b}`).join(',')})`,
    input: (r) => sizedGrid(r, ctx, 3, 6),
    apply: (x) => x.map((row) => row.map((v) => map.get(v) ?? v)),
  };
};

const tile: Maker = (rng, ctx) => {
  const [ty, tx] = rng.pick([
    [1, 2],
    [2, 1],
    [2, 2],
  ] as const);
  return {
    name: `tile(${ty}x${tx})`,
    input: (r) => sizedGrid(r, ctx, 2, 3, 0.5),
    apply: (x) => {
      const out: number[][] = [];
      for (let i = 0; i < ty; i++)
        for (const row of x) out.push(Array.from({ length: tx }, () => row).flat());
      return fits(out) ? out : null;
    },
  };
};

const shiftFamily: Maker = (rng, ctx) => {
  const dir = rng.pick(Object.keys(SHIFTS) as ShiftDir[]);
  const [dy, dx] = SHIFTS[dir];
  return {
    name: `shift(${dir})`,
    input: (r) => {
      const g = sizedGrid(r, ctx, 3, 6);
      const h = g.length;
      const w = g[0]!.length;
      // Empty the edge the content moves towards, so nothing falls off (then the rule is unambiguous).
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          if (
            (dy === 1 && y === h - 1) ||
            (dy === -1 && y === 0) ||
            (dx === 1 && x === w - 1) ||
            (dx === -1 && x === 0)
          )
            g[y]![x] = 0;
      return g;
    },
    apply: (x) => shift(x, dir),
  };
};

const crop: Maker = (_rng, ctx) => ({
  name: 'crop',
  input: (r) => {
    const h = between(r, 4, 6);
    const w = between(r, 4, 6);
    const bh = between(r, 2, h - 1);
    const bw = between(r, 2, w - 1);
    const top = r.int(h - bh + 1);
    const left = r.int(w - bw + 1);
    const g = makeGrid(h, w);
    const inner = randomGrid(r, bh, bw, ctx.palette, 0.6);
    for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) g[top + y]![left + x] = inner[y]![x]!;
    return g;
  },
  apply: cropToContent,
});

/** Object shapes of sizes 1–3, rows separated by `|`, `#` a cell: dot, dominoes, lines, two L-trominoes. */
const SHAPES: readonly (readonly [number, number][])[] = [
  '#',
  '##',
  '#|#',
  '###',
  '#|#|#',
  '#.|##',
  '.#|##',
].map((s) =>
  s
    .split('|')
    .flatMap((row, y) => [...row].flatMap((ch, x) => (ch === '#' ? [[y, x] as [number, number]] : []))),
);

/** Places 2–4 shapes of one colour, no two touching (not even diagonally). */
function objectsGrid(rng: Rng, colour: number): number[][] {
  const h = between(rng, 4, 6);
  const w = between(rng, 4, 6);
  const g = makeGrid(h, w);
  const want = between(rng, 2, 4);
  let placed = 0;
  for (let attempt = 0; attempt < 50 && placed < want; attempt++) {
    const shape = rng.pick(SHAPES);
    const y0 = rng.int(h);
    const x0 = rng.int(w);
    const cells = shape.map(([y, x]) => [y0 + y, x0 + x] as const);
    const ok = cells.every(([y, x]) => {
      if (y >= h || x >= w) return false;
      for (let ny = y - 1; ny <= y + 1; ny++)
        for (let nx = x - 1; nx <= x + 1; nx++) if ((g[ny]?.[nx] ?? 0) !== 0) return false;
      return true;
    });
    if (!ok) continue;
    for (const [y, x] of cells) g[y]![x] = colour;
    placed++;
  }
  return g;
}

const recolourBySize: Maker = (rng, ctx) => {
  const colour = ctx.palette[0]!;
  const bySize = new Map<number, number>();
  const used = [colour];
  for (const size of [1, 2, 3]) {
    const c = freshColour(rng, used);
    used.push(c);
    bySize.set(size, c);
  }
  const sizes = (g: Grid) => new Set(components(g).map((comp) => comp.length));
  return {
    name: `recolour_by_size(${[...bySize].map(([s, c]) => `${s}→${c}`).join(',')})`,
    input: (r) => objectsGrid(r, colour),
    apply: (x) => {
      const out = copyGrid(x);
      for (const comp of components(x)) {
        const c = bySize.get(comp.length);
        if (c === undefined) return null;
        for (const [y, xx] of comp) out[y]![xx] = c;
      }
      return out;
    },
    covers: (demos, test) => {
      const seen = new Set(demos.flatMap((g) => [...sizes(g)]));
      return [...sizes(test)].every((s) => seen.has(s));
    },
  };
};

const fillEnclosedFamily: Maker = (rng, ctx) => {
  const fill = freshColour(rng, ctx.palette);
  return {
    name: `fill_enclosed(${fill})`,
    input: (r) => {
      const h = between(r, 5, 6);
      const w = between(r, 5, 6);
      const g = makeGrid(h, w);
      const boxes = 1 + r.int(2);
      for (let b = 0, attempt = 0; b < boxes && attempt < 30; attempt++) {
        const bh = between(r, 3, Math.min(4, h));
        const bw = between(r, 3, Math.min(4, w));
        const top = r.int(h - bh + 1);
        const left = r.int(w - bw + 1);
        let free = true;
        for (let y = top - 1; y <= top + bh; y++)
          for (let x = left - 1; x <= left + bw; x++) if ((g[y]?.[x] ?? 0) !== 0) free = false;
        if (!free) continue;
        const c = r.pick(ctx.palette);
        for (let y = top; y < top + bh; y++)
          for (let x = left; x < left + bw; x++)
            if (y === top || y === top + bh - 1 || x === left || x === left + bw - 1) g[y]![x] = c;
        b++;
      }
      return g;
    },
    apply: (x) => fillEnclosed(x, fill),
  };
};

/** A gravity family: parameter-free, on random grids of side 3–6. */
function gravity(name: string, apply: (g: Grid) => number[][]): Maker {
  return (_rng, ctx) => ({ name, input: (r) => sizedGrid(r, ctx, 3, 6), apply });
}

const MAKERS: Readonly<Record<Primitive, Maker>> = {
  rotate: geometric('rotate', ['rot90', 'rot180', 'rot270']),
  flip: geometric('flip', ['flipH', 'flipV']),
  transpose: geometric('transpose', ['transpose', 'antiTranspose']),
  colour_map: colourMap,
  gravity_down: gravity('gravity_down', gravityDown),
  gravity_left: gravity('gravity_left', gravityLeft),
  gravity_up: gravity('gravity_up', gravityUp),
  gravity_right: gravity('gravity_right', gravityRight),
  crop,
  tile,
  scale2: (_rng, ctx) => ({
    name: 'scale2',
    input: (r) => sizedGrid(r, ctx, 2, 3, 0.5),
    apply: (x) => {
      const out = scale2(x);
      return fits(out) ? out : null;
    },
  }),
  shift: shiftFamily,
  recolour_by_size: recolourBySize,
  fill_enclosed: fillEnclosedFamily,
};

/**
 * The rule of a family for one task: `rotate` or a composition `crop+flip` (inputs from the first part, then each
 * part applied in order). Throws on an unknown family name (a programming error, not data).
 */
export function makeRule(family: string, rng: Rng, ctx: RuleContext): Rule {
  const parts = family.split('+').map((p) => {
    const maker = MAKERS[p as Primitive];
    if (maker === undefined) throw new RangeError(`unknown grid family part "${p}" in "${family}"`);
    return maker(rng, ctx);
  });
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  return {
    name: parts.map((p) => p.name).join('+'),
    input: first.input,
    apply: (x) => {
      let g: number[][] | null = copyGrid(x);
      for (const p of parts) {
        if (g === null) return null;
        g = p.apply(g);
      }
      return g;
    },
    covers: (demos, test) => first.covers?.(demos, test) ?? true,
  };
}
