import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program';
import { REPO_ROOT } from '../../worker/config';

interface Described {
  name(): string;
  commands: readonly Described[];
  options: readonly { long?: string }[];
}

/** Every command of the tree by its full name ('snapshots show'), with its long options. */
function commandsOf(command: Described, prefix = ''): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const sub of command.commands) {
    const name = `${prefix}${sub.name()}`;
    found.set(name, new Set(sub.options.flatMap((option) => (option.long ? [option.long] : []))));
    for (const [child, options] of commandsOf(sub, `${name} `)) found.set(child, options);
  }
  return found;
}

/** Session notes and measurements: a command named only there is not documented for a user. */
const NOT_REFERENCE = new Set(['docs/status.md', 'docs/benchmark.md']);

async function docs(): Promise<Map<string, string>> {
  const files = ['README.md', ...(await readdir(join(REPO_ROOT, 'docs'))).map((file) => `docs/${file}`)];
  return new Map(
    await Promise.all(files.map(async (file) => [file, await readFile(join(REPO_ROOT, file), 'utf8')] as const)),
  );
}

/** The command lines the docs show: inline code and fenced blocks, each cut at a comment or a pipe. */
function shownCommandLines(text: string): string[] {
  const code = [...text.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].flatMap((block) => block[1].split('\n'));
  const inline = [...text.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`\n]+)`/g)].map((span) => span[1]);
  return [...code, ...inline].flatMap((line) =>
    [...line.split(/\s#\s|\||&&|;/)[0].matchAll(/(?:^|[\s/])segflow((?:\s+[^\s]+)+)/g)].map((match) => match[1].trim()),
  );
}

describe('the docs and the command line', () => {
  const commands = commandsOf(buildProgram());

  it('document every command and every option --help lists, outside the session notes', async () => {
    const all = [...(await docs())]
      .filter(([file]) => !NOT_REFERENCE.has(file))
      .map(([, text]) => text)
      .join('\n');
    const undocumented = [...commands].flatMap(([name, options]) => [
      ...(all.includes(`segflow ${name}`) || all.includes(`\`${name}`) ? [] : [name]),
      // the whole option: --id inside --idle is not --id
      ...[...options]
        .filter((option) => !new RegExp(`${option}(?![a-z0-9-])`).test(all))
        .map((option) => `${name} ${option}`),
    ]);
    expect(undocumented).toEqual([]);
  });

  it('show no option a command does not have', async () => {
    const wrong: string[] = [];
    for (const [file, text] of await docs())
      for (const line of shownCommandLines(text)) {
        const words = line.split(/\s+/);
        const name = [...words.keys()]
          .map((end) => words.slice(0, words.length - end).join(' '))
          .find((candidate) => commands.has(candidate));
        if (name === undefined) continue;
        for (const [flag] of line.matchAll(/--[a-z][a-z0-9-]*/g))
          if (!commands.get(name)?.has(flag) && flag !== '--help') wrong.push(`${file}: segflow ${line}`);
      }
    expect(wrong).toEqual([]);
  });
});
