/** Whether the manager is serving, for grpc.health.v1 and /readyz; waiters see each change. */
export function createServingState() {
  let serving = false;
  let fire: () => void = () => {};
  let changed = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return {
    get serving(): boolean {
      return serving;
    },
    set(value: boolean): void {
      if (value === serving) return;
      serving = value;
      const wake = fire;
      changed = new Promise<void>((resolve) => {
        fire = resolve;
      });
      wake();
    },
    /** Resolves at the next change. */
    nextChange(): Promise<void> {
      return changed;
    },
  };
}

export type ServingState = ReturnType<typeof createServingState>;
