// One image, one entry point: `sluice webhook|controller|tester [flags]`.
const commands: Record<string, string> = {
  webhook: '../webhook/main.js',
  controller: '../controller/main.js',
  tester: '../tester/main.js',
};

const [command] = process.argv.splice(2, 1);
const module = command ? commands[command] : undefined;
if (!module) {
  console.error(`usage: sluice ${Object.keys(commands).join('|')} [flags]`);
  process.exit(2);
}
await import(module);
