/**
 * RFC 3261 §17 timer values. T1 is the round-trip estimate; every other timer derives from it.
 * Tests may shorten them (`setTimerBase`) to exercise timeouts quickly.
 */
export const TIMERS = {
  T1: 500,
  T2: 4000,
  T4: 5000,
  /** Timer B, F, H, J: 64·T1. */
  get transactionTimeout(): number {
    return 64 * this.T1;
  },
  /** Timer D: wait for response retransmissions after an ACK to a non-2xx (≥ 32 s, unreliable). */
  timerD: 32_000,
  /**
   * Timer C (RFC 3261 §16.6, > 3 min): how long an INVITE may ring after its last provisional
   * response before the box cancels it (Timer B only covers Calling, before any 1xx).
   */
  timerC: 180_000,
};

export function setTimerBase(t1: number, t2 = 8 * t1, t4 = 10 * t1, timerD = 64 * t1): void {
  TIMERS.T1 = t1;
  TIMERS.T2 = t2;
  TIMERS.T4 = t4;
  TIMERS.timerD = timerD;
}
