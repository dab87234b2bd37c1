/** Runs `close` once on SIGTERM or SIGINT, then exits 0 (1 if closing failed). */
export function closeOnSignals(close: () => Promise<void>): void {
  let closing = false;
  const handler = (): void => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(
          `sigil: error: shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
