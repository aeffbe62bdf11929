/**
 * Seeded, splittable randomness. Every choice the simulator makes (phone IDs, job outcomes, faults) is a
 * pure function of the seed and a stable key, so a run with the same seed and the same requests in the same
 * order gives the same answers, and one phone's outcome does not depend on what other phones did.
 */

/** 32-bit FNV-1a hash of a string, mixed with the seed. */
export function hash32(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mix32(h);
}

function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A number in [0, 1) determined by seed and key. */
export function unitFor(seed: number, key: string): number {
  return hash32(seed, key) / 0x100000000;
}

/** mulberry32: a small, fast, seeded generator for sequences. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = mix32(seed >>> 0);
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `length` lowercase hex characters. */
  hex(length: number): string {
    const words = Math.ceil(length / 8);
    const buffer = Buffer.allocUnsafe(words * 4);
    for (let i = 0; i < words; i++) buffer.writeUInt32BE(this.nextUint32(), i * 4);
    const text = buffer.toString('hex');
    return text.length === length ? text : text.slice(0, length);
  }
}
