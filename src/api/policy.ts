// The routing policy as plain JSON (it crosses to a Worker and comes from CLI strings): the policies
// of src/kernels/moe_router.ts that need no GPU object. SERE, whose similarity matrix lives in a GPU
// buffer, is not part of it yet.
import type { GpuPolicy } from '../kernels/moe_router.ts';

export type Policy = Exclude<GpuPolicy, { kind: 'sere' }>;
