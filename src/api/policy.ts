// The routing policy as plain JSON (it crosses to a Worker and comes from CLI strings): defined once in
// src/routing/types.ts, with every kind (SERE, Alloc-L, mass and auto read the model's calibration).
export type { Policy } from '../routing/types.ts';
