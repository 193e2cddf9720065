// What every screen gets when it is shown, and the loading signals tests and people wait on.

import type { Principal } from "./types";

export interface ScreenContext {
  /** Aborted when the screen goes away: stop timers, cancel requests. */
  signal: AbortSignal;
  /** The part of the route after the screen's name: "keys" in #/access/keys. */
  sub: string | null;
  principal: Principal;
  /** Show the screen as loading until `work` settles (main[data-loading], body[data-ready]). */
  track<T>(work: Promise<T>): Promise<T>;
}

export type ScreenMount = (root: HTMLElement, ctx: ScreenContext) => void;

/**
 * Counts a screen's pending loads. main gets data-loading while any is pending; body's data-ready becomes "true"
 * when the screen's first loads have all settled (and stays so until the next screen).
 */
export class LoadTracker {
  private pending = 0;
  private alive = true;

  constructor(private readonly main: HTMLElement) {
    document.body.dataset.ready = "false";
    main.removeAttribute("data-loading");
  }

  track<T>(work: Promise<T>): Promise<T> {
    if (!this.alive) return work;
    this.pending += 1;
    this.main.setAttribute("data-loading", "true");
    this.main.setAttribute("aria-busy", "true");
    const done = () => {
      this.pending -= 1;
      this.settle();
    };
    work.then(done, done);
    return work;
  }

  /** After the screen mounted: ready at once if it started no load. */
  mounted(): void {
    queueMicrotask(() => this.settle());
  }

  dispose(): void {
    this.alive = false;
  }

  private settle(): void {
    if (!this.alive || this.pending > 0) return;
    this.main.removeAttribute("data-loading");
    this.main.removeAttribute("aria-busy");
    document.body.dataset.ready = "true";
  }
}
