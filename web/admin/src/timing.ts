// Timers that stop by themselves when their screen goes away (its AbortSignal fires).

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number, signal?: AbortSignal): (...args: A) => void {
  let timer: number | undefined;
  signal?.addEventListener("abort", () => window.clearTimeout(timer));
  return (...args: A) => {
    window.clearTimeout(timer);
    if (signal?.aborted) return;
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

export interface Poller {
  /** Schedule the next run (no-op when one is scheduled or running). */
  start(): void;
  stop(): void;
  readonly running: boolean;
}

/**
 * Runs `tick` every `ms` after the previous run finished (never two at once) while started; `tick` returns
 * false to stop. With `onlyWhenVisible`, a hidden browser tab skips ticks and catches up when shown again.
 */
export function poller(tick: () => Promise<boolean | void>, ms: number, signal: AbortSignal, onlyWhenVisible = true): Poller {
  let timer: number | undefined;
  let active = false;
  let inFlight = false;

  const schedule = () => {
    window.clearTimeout(timer);
    if (!active || signal.aborted) return;
    timer = window.setTimeout(run, ms);
  };
  const run = async () => {
    if (!active || signal.aborted || inFlight) return;
    if (onlyWhenVisible && document.visibilityState === "hidden") return; // resumed by visibilitychange
    inFlight = true;
    let keepGoing: boolean | void = true;
    try {
      keepGoing = await tick();
    } catch {
      // the tick shows its own errors; keep polling
    } finally {
      inFlight = false;
    }
    if (keepGoing === false) active = false;
    schedule();
  };
  const onVisible = () => {
    if (document.visibilityState === "visible" && active && !inFlight) {
      window.clearTimeout(timer);
      void run();
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  signal.addEventListener("abort", () => {
    active = false;
    window.clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisible);
  });
  return {
    start() {
      if (active || signal.aborted) return;
      active = true;
      if (!inFlight) schedule();
    },
    stop() {
      active = false;
      window.clearTimeout(timer);
    },
    get running() {
      return active;
    },
  };
}
