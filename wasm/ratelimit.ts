// asc-flags: --importMemory --sharedMemory --enable threads --initialMemory 1 --maximumMemory 65536 --use abort=
// Token buckets in shared linear memory, one memory for every worker thread of a gateway, so a
// limit of N is N for the whole process and not N per worker.
//
// Each bucket is kept as GCRA (the "virtual scheduling" form of a token bucket): a single i64,
// the theoretical arrival time `tat` in nanoseconds. With `interval` = every / max_rate and
// `burst` = capacity, a request at `now` passes when max(tat, now) - now <= (burst - 1) * interval,
// and then tat = max(tat, now) + interval. That is exactly a bucket of `burst` tokens refilled one
// token per `interval`, with integer arithmetic and one word to update atomically. A bucket whose
// tat is in the past is full again: it carries no information and its slot can be reused.
//
// Client buckets live in a table of lock-protected groups of SLOTS entries; a key hashes to one
// group. Inside a group: its own slot, else an empty or idle (full) slot, else the slot nearest to
// being full is evicted. The table's size is fixed at startup, so a client rotating keys can only
// evict entries, never grow memory. This module has no data segment and allocates nothing: the
// memory is the caller's, laid out by src/qos/buckets.ts.

// Group layout: [lock i32, pad i32, pad i64] then SLOTS × [key i64, tat i64] = 128 bytes.
const GROUP_BYTES: u32 = 128;
const SLOTS: u32 = 7;
const SLOT_BASE: u32 = 16;

@inline
function nowNs(nowMs: f64): i64 {
  return <i64>(nowMs * 1e6);
}

// Times arrive as f64 (milliseconds since the layout's epoch, integral nanoseconds for the
// interval) so that JS calls need no BigInt; arithmetic happens on i64 nanoseconds.

/**
 * One shared bucket (an endpoint's `max_rate`) at `cell` (8-byte aligned).
 * Returns 1 when the request may pass, 0 when the bucket is empty.
 */
export function take(cell: usize, nowMs: f64, intervalNs: f64, burst: i32): i32 {
  const now = nowNs(nowMs);
  const interval = <i64>intervalNs;
  const tolerance = interval * <i64>(burst - 1);
  let tat = atomic.load<i64>(cell);
  for (;;) {
    const start = tat > now ? tat : now;
    if (start - now > tolerance) return 0;
    const seen = atomic.cmpxchg<i64>(cell, tat, start + interval);
    if (seen == tat) return 1;
    tat = seen;
  }
  return 0;
}

@inline
function lock(group: usize): void {
  while (atomic.cmpxchg<i32>(group, 0, 1) != 0) {
    // The critical section is a few dozen instructions: spin.
  }
}

@inline
function unlock(group: usize): void {
  atomic.store<i32>(group, 0);
}

/**
 * One client's bucket in the table at `table` with `groups` groups. The key is the 64-bit hash
 * (hi, lo) of the client's identity; 0 is reserved for empty slots.
 * Returns 1 when the request may pass, 0 when this client's bucket is empty.
 */
export function takeKey(table: usize, groups: u32, hi: u32, lo: u32, nowMs: f64, intervalNs: f64, burst: i32): i32 {
  const interval = <i64>intervalNs;
  let key = (<i64>hi << 32) | <i64>lo;
  if (key == 0) key = 1;
  const now = nowNs(nowMs);
  const tolerance = interval * <i64>(burst - 1);
  const group = table + <usize>((lo ^ (hi >>> 7)) % groups) * GROUP_BYTES;
  lock(group);
  let free: usize = 0;
  let oldest: usize = 0;
  let oldestTat: i64 = i64.MAX_VALUE;
  for (let i: u32 = 0; i < SLOTS; i++) {
    const slot = group + SLOT_BASE + <usize>(i << 4);
    const k = load<i64>(slot);
    const tat = load<i64>(slot, 8);
    if (k == key) {
      const start = tat > now ? tat : now;
      if (start - now > tolerance) {
        unlock(group);
        return 0;
      }
      store<i64>(slot, start + interval, 8);
      unlock(group);
      return 1;
    }
    if (free == 0 && (k == 0 || tat <= now)) free = slot;
    if (tat < oldestTat) {
      oldestTat = tat;
      oldest = slot;
    }
  }
  // A new (or evicted and returning) client starts with a full bucket.
  const slot = free != 0 ? free : oldest;
  store<i64>(slot, key);
  store<i64>(slot, now + interval, 8);
  unlock(group);
  return burst > 0 ? 1 : 0;
}

/** Bytes a table of `groups` groups takes. */
export function tableBytes(groups: u32): u32 {
  return groups * GROUP_BYTES;
}

/** Clients a table of `groups` groups holds at most. */
export function tableSlots(groups: u32): u32 {
  return groups * SLOTS;
}
