/** Typed events a service can log or trace; metrics are recorded from the same points. */
export interface ResilienceEvents {
  retry: { operation: string; target: string; attempt: number; delayMs: number; reason: string };
  breaker: { target: string; state: "closed" | "open" | "half-open" };
  fallback: { operation: string; reason: string };
  route: { operation: string; target: string; reason: string };
  lag: { target: string; seconds: number };
  /** A write whose connection died, and what pg_xact_status() said became of it. */
  outcome: { operation: string; outcome: "committed" | "not-committed" | "unknown" };
}

type Listener<T> = (event: T) => void;

export class TypedEvents {
  private readonly listeners = new Map<keyof ResilienceEvents, Set<Listener<never>>>();

  on<K extends keyof ResilienceEvents>(
    name: K,
    listener: Listener<ResilienceEvents[K]>,
  ): () => void {
    const set = this.listeners.get(name) ?? new Set();
    set.add(listener as Listener<never>);
    this.listeners.set(name, set);
    return () => set.delete(listener as Listener<never>);
  }

  emit<K extends keyof ResilienceEvents>(name: K, event: ResilienceEvents[K]): void {
    for (const l of this.listeners.get(name) ?? []) (l as Listener<ResilienceEvents[K]>)(event);
  }
}
