/**
 * A draw of the discrete Laplace distribution, P(k) ∝ exp(−|k| / scale) over the integers, from
 * 16 random bytes: the difference of two geometric variables, each drawn by inverse transform
 * from 53 bits. Its variance is 2p / (1 − p)² with p = exp(−1 / scale), about 2·scale².
 * Deterministic in `bytes`, which is what lets a cell keep its noise (see src/aggregates/noise.ts).
 * Floating point limits the tails to about 37·scale; that is not hardened against attacks on the
 * low bits of a floating-point sampler, which need many independent draws of one value.
 */
export function discreteLaplace(bytes: Buffer, scale: number): number {
  const logP = -1 / scale
  const geometric = (offset: number) => {
    const uniform = (Number(bytes.readBigUInt64BE(offset) >> 11n) + 1) / 2 ** 53 // in (0, 1]
    return Math.floor(Math.log(uniform) / logP)
  }
  return geometric(0) - geometric(8)
}
