/**
 * `npm run bench [-- area ...]`: runs each area's benchmark and prints its
 * figures. Areas: ledger, stripe, reconcile, demo. Sizes come from BENCH_* variables.
 */
const AREAS = ['ledger', 'stripe', 'reconcile', 'demo'] as const;

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const areas = wanted.length > 0 ? wanted : [...AREAS];
for (const area of areas) {
  if (!(AREAS as readonly string[]).includes(area)) {
    console.error(`unknown bench area "${area}" (expected one of ${AREAS.join(', ')})`);
    process.exit(2);
  }
}
for (const area of areas) {
  console.log(`\n== bench: ${area} ==`);
  const mod = (await import(`./${area}.js`)) as { run: () => Promise<void> };
  await mod.run();
}
