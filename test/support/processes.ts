import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');

/** A child process of one of the repository's entry points, with its output collected. */
export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

/** Starts `bin/<script>` with tsx, as `npm start` / `npm run admin` do. */
export const startScript = (script: string, args: string[], env: Record<string, string>): RunningProcess => {
  const child = spawn(TSX, [resolve(ROOT, 'bin', script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    child,
    output: () => output,
    exited,
    waitFor: async (text, timeoutMs = 45_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes(text)) {
        if (child.exitCode !== null) throw new Error(`${script} exited (${child.exitCode}) before printing "${text}":\n${output}`);
        if (Date.now() > deadline) throw new Error(`${script} did not print "${text}" in time:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
};

/** Runs `bin/<script>` to completion. */
export const runScript = async (script: string, args: string[], env: Record<string, string>) => {
  const run = startScript(script, args, env);
  const code = await run.exited;
  return { code, output: run.output() };
};

/** True while a process with this pid exists. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
